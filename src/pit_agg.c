/*
 * pit_agg.c
 *		The point-in-time join of aggregate views (pit.c): both sides
 *		sorted by key, merged, and each key's windows computed by
 *		aggregation.c's sweep.
 */
#include "pit_int.h"

/* ---------------------------------------------------------------------
 * Aggregate views
 *
 * An aggregate feature is a window of events, not one row, so the as-of
 * index does not serve.  Both sides are sorted by (key hash, keys, time)
 * with tuplesorts (within work_mem, spilling beyond it): the spine's
 * records, and the events of the time range the windows reach whose keys
 * the spine has (the bitset of spine key hashes filters them).  A merge by
 * key hands each key's events and record times to aggregation.c's sweep;
 * the results go to the position buckets.  Memory beyond the sorts: one
 * key's events in the span of its records' windows.
 * --------------------------------------------------------------------- */

typedef struct AggEventReceiver
{
	DestReceiver pub;			/* begins as PitViewReceiver */
	PitView    *pv;
	Tuplesortstate *sort;
	TupleTableSlot *slot;		/* hash, keys, ts, order, value columns */
} AggEventReceiver;

static bool
agg_event_receive(TupleTableSlot *in, DestReceiver *self)
{
	AggEventReceiver *r = (AggEventReceiver *) self;
	PitView    *pv = r->pv;
	int			nk = pv->view->nkeys;
	int			ncols = nk + 2 + pv->view->nfeatures;
	TupleTableSlot *slot = r->slot;
	uint32		h;

	slot_getallattrs(in);
	h = pit_hash_keys(pv, in->tts_values);
	if ((pv->seen[(h % SEEN_BITS) / 64] & (UINT64CONST(1) << (h % 64))) == 0)
		return true;			/* no spine row has these keys */
	ExecClearTuple(slot);
	slot->tts_values[0] = Int64GetDatum((int64) h);
	slot->tts_isnull[0] = false;
	memcpy(slot->tts_values + 1, in->tts_values, sizeof(Datum) * ncols);
	memcpy(slot->tts_isnull + 1, in->tts_isnull, sizeof(bool) * ncols);
	if (pv->ord_is_tid)
		slot->tts_values[nk + 2] = Int64GetDatum(pit_tid_order((ItemPointer) DatumGetPointer(in->tts_values[nk + 1])));
	ExecStoreVirtualTuple(slot);
	tuplesort_puttupleslot(r->sort, slot);
	CHECK_FOR_INTERRUPTS();
	return true;
}

/* A tuplesort by (hash, keys, time[, order]): the first 2 + nk (+1) columns. */
static Tuplesortstate *
agg_sort_begin(PitView *pv, TupleDesc desc, int nsort)
{
	AttrNumber *atts = palloc(sizeof(AttrNumber) * nsort);
	Oid		   *ops = palloc(sizeof(Oid) * nsort);
	Oid		   *colls = palloc0(sizeof(Oid) * nsort);
	bool	   *nf = palloc0(sizeof(bool) * nsort);
	int			nk = pv->view->nkeys;

	for (int i = 0; i < nsort; i++)
	{
		atts[i] = i + 1;
		if (i >= 1 && i <= nk)
		{
			ops[i] = pv->key_ltop[i - 1];
			colls[i] = pv->ssup[i - 1].ssup_collation;
		}
		else
			pit_lt_operator(TupleDescAttr(desc, i)->atttypid, &ops[i]);
	}
	return tuplesort_begin_heap(desc, nsort, atts, ops, colls, nf, work_mem, NULL, TUPLESORT_NONE);
}

/* (hash, keys) of a sorted slot against the current key's: <0, 0, >0 */
static int
agg_cmp_key(PitView *pv, TupleTableSlot *slot, int64 h, Datum *keys)
{
	int64		sh = DatumGetInt64(slot->tts_values[0]);

	if (sh != h)
		return sh < h ? -1 : 1;
	return pit_compare_key_datums(pv, slot->tts_values + 1, keys);
}

void
pit_join_agg_view(PitPlan *plan, PitView *pv)
{
	PsView	   *v = pv->view;
	PsSource   *src = v->source;
	int			nk = v->nkeys;
	int			nv = v->nfeatures;
	TupleDesc	sdesc = CreateTemplateTupleDesc(nk + 3);
	TupleDesc	edesc = CreateTemplateTupleDesc(nk + 3 + nv);
	TupleTableSlot *sslot;
	TupleTableSlot *eslot;
	Tuplesortstate *ss;
	Tuplesortstate *es;
	Datum	   *dvals = palloc(sizeof(Datum) * pv->nscodec);
	bool	   *dnulls = palloc(sizeof(bool) * pv->nscodec);
	TimestampTz min_hi = DT_NOEND;
	TimestampTz max_hi = DT_NOBEGIN;
	int64		nrecs = 0;
	bool		have_s;
	bool		have_e;
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext keycxt;
	int16	   *vlen = palloc(sizeof(int16) * Max(nv, 1));
	bool	   *vbyval = palloc(sizeof(bool) * Max(nv, 1));

	TupleDescInitEntry(sdesc, 1, "hash", INT8OID, -1, 0);
	TupleDescInitEntry(edesc, 1, "hash", INT8OID, -1, 0);
	for (int k = 0; k < nk; k++)
	{
		PsColumn   *c = &src->cols[v->key_cols[k]];

		TupleDescInitEntry(sdesc, k + 2, c->name, c->type->typid, -1, 0);
		TupleDescInitEntry(edesc, k + 2, c->name, c->type->typid, -1, 0);
	}
	TupleDescInitEntry(sdesc, nk + 2, "t", TIMESTAMPTZOID, -1, 0);
	TupleDescInitEntry(sdesc, nk + 3, "pos", INT8OID, -1, 0);
	TupleDescInitEntry(edesc, nk + 2, "ts", TIMESTAMPTZOID, -1, 0);
	TupleDescInitEntry(edesc, nk + 3, "ord", INT8OID, -1, 0);
	for (int f = 0; f < nv; f++)
	{
		PsColumn   *c = &src->cols[v->feature_cols[f]];

		TupleDescInitEntry(edesc, nk + 4 + f, c->name, c->type->typid, -1, 0);
		get_typlenbyval(c->type->typid, &vlen[f], &vbyval[f]);
	}
	sslot = MakeSingleTupleTableSlot(sdesc, &TTSOpsVirtual);
	ss = agg_sort_begin(pv, sdesc, nk + 2);

	/* 1. the spine's records with a finite time, sorted */
	{
		int64		off = 0;
		char	   *rec;

		if (pv->spine_file != NULL)
			pit_rewind_run(pv->spine_file);
		for (;;)
		{
			TimestampTz t;
			TimestampTz hi;

			rec = pv->spine_file != NULL ? pit_read_encoded(pv->spine_file, &pv->rbuf)
				: pit_next_spine_record(pv, &off);
			if (rec == NULL)
				break;
			pit_decode_values(rec, nk + 2, pv->scodec_len, pv->scodec_byval, dvals, dnulls, pv->nscodec);
			t = DatumGetTimestampTz(dvals[nk]);
			if (TIMESTAMP_NOT_FINITE(t))
				continue;		/* no window ends at infinity: NULL features */
			hi = ps_agg_window_hi(v, t);
			min_hi = Min(min_hi, hi);
			max_hi = Max(max_hi, hi);
			ExecClearTuple(sslot);
			sslot->tts_values[0] = Int64GetDatum((int64) ((uint32 *) rec)[0]);
			sslot->tts_isnull[0] = false;
			memcpy(sslot->tts_values + 1, dvals, sizeof(Datum) * (nk + 2));
			memset(sslot->tts_isnull + 1, false, nk + 2);
			ExecStoreVirtualTuple(sslot);
			tuplesort_puttupleslot(ss, sslot);
			nrecs++;
		}
		if (pv->spine_file != NULL)
			pit_file_close(pv->spine_file);
		pv->spine_file = NULL;
	}
	tuplesort_performsort(ss);
	ExecDropSingleTupleTableSlot(sslot);
	if (nrecs == 0)
	{
		tuplesort_end(ss);
		return;
	}

	/* 2. the events the windows reach, (hi - W, hi], of the spine's keys, sorted */
	{
		AggEventReceiver r;

		es = agg_sort_begin(pv, edesc, nk + 3);
		memset(&r, 0, sizeof(r));
		r.pub.receiveSlot = agg_event_receive;
		r.pub.rStartup = pit_feature_receiver_startup;
		r.pub.rShutdown = pit_receiver_noop;
		r.pub.rDestroy = pit_receiver_noop;
		r.pub.mydest = DestNone;
		r.pv = pv;
		r.sort = es;
		r.slot = MakeSingleTupleTableSlot(edesc, &TTSOpsVirtual);
		pit_run_feature_query(pv, pit_feature_query(pv, plan, true, nv, v->feature_cols),
						  max_hi, min_hi - v->max_window + 1, v->start_time, (DestReceiver *) &r);
		ExecDropSingleTupleTableSlot(r.slot);
		tuplesort_performsort(es);
	}

	/* 3. merge by key; sweep each key's windows */
	sslot = MakeSingleTupleTableSlot(sdesc, &TTSOpsMinimalTuple);
	eslot = MakeSingleTupleTableSlot(edesc, &TTSOpsMinimalTuple);
	keycxt = AllocSetContextCreate(outer, "aggregate key", ALLOCSET_DEFAULT_SIZES);
	have_s = tuplesort_gettupleslot(ss, true, false, sslot, NULL);
	have_e = tuplesort_gettupleslot(es, true, false, eslot, NULL);
	while (have_s)
	{
		int64		h;
		Datum	   *keys;
		int64		n = 0,
					cap = 64;
		TimestampTz *t;
		int64	   *pos;
		PsAggEvents ev;
		int64		ecap = 64;
		Datum	   *out;
		bool	   *outnull;
		TimestampTz lo;
		TimestampTz hi;

		MemoryContextReset(keycxt);
		MemoryContextSwitchTo(keycxt);
		slot_getallattrs(sslot);
		h = DatumGetInt64(sslot->tts_values[0]);
		keys = palloc(sizeof(Datum) * Max(nk, 1));
		for (int k = 0; k < nk; k++)
			keys[k] = datumCopy(sslot->tts_values[k + 1], pv->codec_byval[k], pv->codec_len[k]);
		t = palloc(sizeof(TimestampTz) * cap);
		pos = palloc(sizeof(int64) * cap);
		do
		{
			if (n == cap)
			{
				cap *= 2;
				t = repalloc_huge(t, sizeof(TimestampTz) * cap);
				pos = repalloc_huge(pos, sizeof(int64) * cap);
			}
			t[n] = DatumGetTimestampTz(sslot->tts_values[nk + 1]);
			pos[n] = DatumGetInt64(sslot->tts_values[nk + 2]);
			n++;
			have_s = tuplesort_gettupleslot(ss, true, false, sslot, NULL);
			if (have_s)
				slot_getallattrs(sslot);
		} while (have_s && agg_cmp_key(pv, sslot, h, keys) == 0);

		/* this key's events in the span of its windows */
		lo = ps_agg_window_hi(v, t[0]) - v->max_window;
		hi = ps_agg_window_hi(v, t[n - 1]);
		ev.n = 0;
		ev.ts = palloc(sizeof(TimestampTz) * ecap);
		ev.ord = palloc(sizeof(int64) * ecap);
		ev.vals = palloc(sizeof(Datum) * ecap * Max(nv, 1));
		ev.nulls = palloc(sizeof(bool) * ecap * Max(nv, 1));
		for (; have_e; have_e = tuplesort_gettupleslot(es, true, false, eslot, NULL))
		{
			int			c;
			TimestampTz ts;

			slot_getallattrs(eslot);
			c = agg_cmp_key(pv, eslot, h, keys);
			if (c > 0)
				break;
			if (c < 0)
				continue;		/* a key before this one: no spine record of its own */
			ts = DatumGetTimestampTz(eslot->tts_values[nk + 1]);
			if (ts <= lo || ts > hi)
				continue;
			if (ev.n == ecap)
			{
				ecap *= 2;
				ev.ts = repalloc_huge(ev.ts, sizeof(TimestampTz) * ecap);
				ev.ord = repalloc_huge(ev.ord, sizeof(int64) * ecap);
				ev.vals = repalloc_huge(ev.vals, sizeof(Datum) * ecap * Max(nv, 1));
				ev.nulls = repalloc_huge(ev.nulls, sizeof(bool) * ecap * Max(nv, 1));
			}
			ev.ts[ev.n] = ts;
			ev.ord[ev.n] = DatumGetInt64(eslot->tts_values[nk + 2]);
			for (int f = 0; f < nv; f++)
			{
				bool		isnull = eslot->tts_isnull[nk + 3 + f];

				ev.nulls[ev.n * nv + f] = isnull;
				ev.vals[ev.n * nv + f] = isnull || vbyval[f] ? eslot->tts_values[nk + 3 + f] :
					datumCopy(eslot->tts_values[nk + 3 + f], false, vlen[f]);
			}
			ev.n++;
		}

		out = palloc_extended(sizeof(Datum) * n * pv->nfeat, MCXT_ALLOC_HUGE);
		outnull = palloc_extended(sizeof(bool) * n * pv->nfeat, MCXT_ALLOC_HUGE);
		ps_agg_sweep(v, pv->nfeat, pv->feat_cols, &ev, n, t, out, outnull);
		for (int64 i = 0; i < n; i++)
		{
			MinimalTuple mt;

			pv->rvals[0] = Int64GetDatum(pos[i]);
			pv->rnulls[0] = false;
			memcpy(pv->rvals + 1, out + i * pv->nfeat, sizeof(Datum) * pv->nfeat);
			memcpy(pv->rnulls + 1, outnull + i * pv->nfeat, sizeof(bool) * pv->nfeat);
			mt = heap_form_minimal_tuple(pv->result_desc, pv->rvals, pv->rnulls);
			pit_write_record(pv, &pv->buckets[pos[i] / plan->bucket_rows], 0, mt);
			pfree(mt);
		}
		MemoryContextSwitchTo(outer);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(keycxt);
	ExecDropSingleTupleTableSlot(sslot);
	ExecDropSingleTupleTableSlot(eslot);
	tuplesort_end(ss);
	tuplesort_end(es);
}

