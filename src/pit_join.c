/*
 * pit_join.c
 *		The as-of join of one attribute view (pit.c): spine records and
 *		their compact encoding, spill files, the in-memory index, the
 *		batched probes of the feature rows, and the parallel scan.
 */
#include "pit_int.h"

/*
 * Phase timings at DEBUG2 (SET client_min_messages = debug2): where the
 * time of one call goes, for tuning pushsource.pit_memory and for profiling.
 */
void
pit_phase(instr_time *since, const char *what, int64 n)
{
	instr_time	now;

	if (!message_level_is_interesting(DEBUG2))
		return;
	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, *since);
	ereport(DEBUG2,
			(errmsg_internal("pushsource: %s (" INT64_FORMAT "): %.3f ms",
							 what, n, INSTR_TIME_GET_MILLISEC(now))));
	INSTR_TIME_SET_CURRENT(*since);
}

/* ---------------------------------------------------------------------
 * The join
 *
 * Per view, the spine's (keys, T, position) records are indexed in memory:
 * sorted by (key hash, keys, T), grouped by key, with a hash directory over
 * the groups, and a candidate slot per record.  The feature rows then
 * stream past the index in any order: a row with keys K and event time ts
 * goes to the slot of K's first record with T >= ts, if it beats the
 * candidate there (a later ts, or the same ts and a later ingest).  At the
 * end a running maximum over each key's records, in T order, gives every
 * record the newest row with ts <= T, which is the as-of match: the spine
 * is sorted, the feature rows are not (they are the big side).
 *
 * When the index would not fit in the join's memory budget
 * (pushsource.pit_memory), the spine's records are split into partitions
 * by key hash.  Partition 0 is indexed during the scan; the feature rows of
 * the others go to temp files and stream past their partition's index
 * afterwards, as a hybrid hash join spills (in parallel: see "The parallel
 * scan" below).
 * --------------------------------------------------------------------- */

/*
 * Result buckets hold MinimalTuples of (position, features), each written
 * after a 32-bit word.  PitFile structs are allocated in filecxt: the
 * receivers run inside SPI, whose executor memory is gone at SPI_finish.
 */
void
pit_write_record(PitView *pv, PitFile **file, uint32 hash, MinimalTuple tup)
{
	if (*file == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(pv->filecxt);

		*file = pit_file_create(NULL, NULL, pv->bucket_buf);
		MemoryContextSwitchTo(old);
	}
	pit_file_write(*file, &hash, sizeof(hash));
	pit_file_write(*file, tup, tup->t_len);
}

/*
 * A new spill file of a view's join: kind 'f' (feature rows of partition
 * n), 'r' (results of bucket n).  In a parallel join of a partitioned
 * spine the feature rows of every process, and a worker's results, go to
 * the shared file set as "kind.process.n" (the leader is process 0), where
 * the others can open them; otherwise, and for the leader's own results,
 * to a private temp file.
 */
PitFile *
pit_spill_file(PitView *pv, char kind, int n)
{
	MemoryContext old = MemoryContextSwitchTo(pv->filecxt);
	PitFile    *f;

	if (pv->fileset != NULL && !(kind == 'r' && pv->procno < 0))
	{
		char		name[MAXPGPATH];

		snprintf(name, sizeof(name), "%c.%d.%d", kind, pv->procno + 1, n);
		f = pit_file_create(&pv->fileset->fs, name, kind == 'f' ? pv->part_buf : pv->bucket_buf);
	}
	else
		f = pit_file_create(NULL, NULL, kind == 'f' ? pv->part_buf : pv->bucket_buf);
	MemoryContextSwitchTo(old);
	return f;
}

/* Next record of a run being read, allocated in the current context. */
MinimalTuple
pit_read_record(PitFile *file, uint32 *hash)
{
	uint32		len;
	MinimalTuple tup;

	if (pit_file_read(file, hash, sizeof(uint32)) != sizeof(uint32))
		return NULL;
	if (pit_file_read(file, &len, sizeof(len)) != sizeof(len))
		elog(ERROR, "pushsource: truncated point-in-time temp file");
	tup = palloc(len);
	tup->t_len = len;
	if (pit_file_read(file, (char *) tup + sizeof(len), len - sizeof(len)) != len - sizeof(len))
		elog(ERROR, "pushsource: truncated point-in-time temp file");
	return tup;
}

/* The spine position of a result record: its first column. */
int64
pit_result_pos(PitView *pv, MinimalTuple mt)
{
	HeapTupleData htup;
	bool		isnull;

	htup.t_len = mt->t_len + MINIMAL_TUPLE_OFFSET;
	htup.t_data = (HeapTupleHeader) ((char *) mt - MINIMAL_TUPLE_OFFSET);
	return DatumGetInt64(heap_getattr(&htup, 1, pv->result_desc, &isnull));
}

void
pit_rewind_run(PitFile *file)
{
	pit_file_rewind(file);
}

/* Zero bytes up to the next MAXALIGN boundary (or n bytes). */
static inline void
pad_zero(StringInfo buf, int n)
{
	if (buf->maxlen - buf->len <= n)
		enlargeStringInfo(buf, n);
	memset(buf->data + buf->len, 0, n);
	buf->len += n;
}

static inline void
append_bytes(StringInfo buf, const void *data, int n)
{
	if (buf->maxlen - buf->len <= n)
		enlargeStringInfo(buf, n);
	memcpy(buf->data + buf->len, data, n);
	buf->len += n;
	buf->data[buf->len] = '\0';
}

/*
 * Spine and spilled feature records are encoded compactly instead of as
 * minimal tuples: [hash][length][null bitmap][values, each MAXALIGNed], the
 * whole record padded to MAXALIGN, so that records read into a buffer have
 * every value aligned and need no per-row allocation or tuple deforming.
 */
static void
encode_values(StringInfo buf, int n, int16 *len, bool *byval, Datum *vals, bool *nulls)
{
	int			nb = (n + 7) / 8;

	resetStringInfo(buf);
	pad_zero(buf, 8 + nb);		/* hash, length, null bitmap */
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
		{
			buf->data[8 + i / 8] |= 1 << (i % 8);
			continue;
		}
		pad_zero(buf, MAXALIGN(buf->len) - buf->len);
		if (byval[i])
			append_bytes(buf, &vals[i], sizeof(Datum));
		else if (len[i] > 0)
			append_bytes(buf, DatumGetPointer(vals[i]), len[i]);
		else if (len[i] == -1)
		{
			struct varlena *v = PG_DETOAST_DATUM_PACKED(vals[i]);

			appendBinaryStringInfo(buf, (char *) v, VARSIZE_ANY(v));
			if ((Pointer) v != DatumGetPointer(vals[i]))
				pfree(v);		/* the receivers' memory is per query */
		}
		else
			appendBinaryStringInfo(buf, DatumGetCString(vals[i]), strlen(DatumGetCString(vals[i])) + 1);
	}
	pad_zero(buf, MAXALIGN(buf->len) - buf->len);
	((uint32 *) buf->data)[1] = (uint32) buf->len;
}

/* Decode the first n values of a record (rec points at its start). */
void
pit_decode_values(char *rec, int n, int16 *len, bool *byval, Datum *vals, bool *nulls, int natts)
{
	int			nb = (natts + 7) / 8;
	Size		off = 8 + nb;

	for (int i = 0; i < n; i++)
	{
		nulls[i] = (rec[8 + i / 8] & (1 << (i % 8))) != 0;
		if (nulls[i])
		{
			vals[i] = (Datum) 0;
			continue;
		}
		off = MAXALIGN(off);
		if (byval[i])
		{
			memcpy(&vals[i], rec + off, sizeof(Datum));
			off += sizeof(Datum);
		}
		else
		{
			vals[i] = PointerGetDatum(rec + off);
			off += len[i] > 0 ? (Size) len[i] : len[i] == -1 ? VARSIZE_ANY(rec + off) : strlen(rec + off) + 1;
		}
	}
}

void
pit_write_encoded(MemoryContext filecxt, PitFile **file, Size buf, StringInfo enc, uint32 hash,
				  int64 *n, int64 *bytes)
{
	if (*file == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(filecxt);

		*file = pit_file_create(NULL, NULL, buf);
		MemoryContextSwitchTo(old);
	}
	((uint32 *) enc->data)[0] = hash;
	pit_file_write(*file, enc->data, enc->len);
	if (n)
		(*n)++;
	if (bytes)
		*bytes += enc->len;
}

/*
 * How many partitions (a power of 2, at most 4096) the index of spine_n
 * records of spine_bytes needs within the memory budget, of nrows spine
 * rows in all; *need (if not NULL): the memory of the whole index.
 */
int
pit_plan_parts(PitView *pv, double spine_n, double spine_bytes, double nrows, double *need)
{
	int			nk = pv->view->nkeys;
	double		budget = (double) pit_memory_budget();
	double		byref_guess = 0;
	double		total;
	int			nparts = 1;

	/*
	 * The records, their entries, groups (at most one per record), directory
	 * (half full at most), times and candidates, copies of by-reference
	 * feature values (a guess), and the result array.
	 */
	for (int f = 0; f < pv->nfeat; f++)
		if (!pv->codec_byval[nk + 2 + f])
			byref_guess += 16.0;
	total = spine_bytes +
		spine_n * (sizeof(SpineEnt) + sizeof(Datum) * nk + sizeof(SpineGroup) +
				   2 * sizeof(DirEnt) + sizeof(TimestampTz) + pv->stride + byref_guess) +
		nrows * sizeof(Cand *);
	while (nparts < 4096 && total / nparts > budget)
		nparts *= 2;
	if (nparts > 1 && pit_max_workers() > 0 && !pv->has_byref && !pv->is_mock)
	{
		/*
		 * The leader and each worker may join a partition at the same time
		 * (when the scan can run in parallel: keys and features by value);
		 * one more share is left for what every process holds besides
		 * (tuplestores, file buffers, its own few megabytes).  The shares
		 * are counted for max_parallel_workers_per_gather workers even when
		 * fewer take part (pit_max_workers): with a third of the budget per
		 * process instead of a quarter, one worker and the leader peaked
		 * at 70 MB against a 64 MB budget at 4M x 20M.
		 */
		budget /= 2 + max_parallel_workers_per_gather;
		while (nparts < 4096 && total / nparts > budget)
			nparts *= 2;
	}
	if (need != NULL)
		*need = total;
	return nparts;
}

/*
 * A spine table read by heap scans (pit_spine_direct), whose rows' records
 * would not fit in a quarter of the budget by its size (pg_class's rows per
 * page times its pages now): each attribute view with keys passed by value
 * writes its records straight into the files of the hash slots its
 * estimated records need (write_spine_record), instead of into one file
 * that join_view reads back and splits.  join_view takes the slots as they
 * are when the records turn out to need no more partitions, else splits
 * them further.
 */
void
pit_prepartition(PitPlan *plan, Relation rel)
{
	BlockNumber pages = RelationGetNumberOfBlocks(rel);
	double		rows;
	double		buffers = Max((double) pit_memory_budget() / 8, 1024.0 * 1024);
	double		files = 0;
	int			nviews = 0;
	ListCell   *lc;

	if (rel->rd_rel->relpages <= 0 || rel->rd_rel->reltuples < 0 || pages == 0)
		return;
	rows = (double) rel->rd_rel->reltuples / rel->rd_rel->relpages * pages;
	foreach(lc, plan->views)
	{
		PitView    *pv = lfirst(lc);
		bool		byval = !pv->is_agg;
		double		bytes;
		int			nparts;

		for (int i = 0; byval && i < pv->nscodec; i++)
			byval = pv->scodec_byval[i];
		if (!byval)
			continue;
		/* [hash][length][null bits], then one aligned Datum per column */
		bytes = rows * (MAXALIGN(8 + (pv->nscodec + 7) / 8) + sizeof(Datum) * pv->nscodec);
		if (bytes <= (double) pit_memory_budget() / 4)
			continue;
		nparts = pit_plan_parts(pv, rows, bytes, rows, NULL);
		/*
		 * Every view's files are written at once: their buffers (at least
		 * PIT_FILE_MIN_BUF each) stay within an eighth of the budget, or
		 * 1 MB with a tiny budget; a view beyond that is split as before.
		 */
		if (nparts < 2 || (files + nparts) * PIT_FILE_MIN_BUF > buffers)
			continue;
		files += nparts;
		nviews++;
		ereport(DEBUG1,
				(errmsg_internal("pushsource: the spine's records for feature view %s go to %d partitions as they are read (%.0f rows by the table's size)",
								 pv->view->name, nparts, rows)));
		pv->pre_parts = nparts;
		pv->spine_parts = palloc0(sizeof(PitFile *) * nparts);
		pv->spine_part_n = palloc0(sizeof(int64) * nparts);
		pv->spine_part_bytes = palloc0(sizeof(int64) * nparts);
	}
	foreach(lc, plan->views)
	{
		PitView    *pv = lfirst(lc);

		if (pv->pre_parts > 0)
			pv->part_buf = pit_file_buffer(buffers / nviews, pv->pre_parts);
	}
}

/*
 * After the spine read: the buffers of the files written by hash slot are
 * freed until each view's join reads the files (pit_prepartition).
 */
void
pit_prepartition_done(PitPlan *plan)
{
	ListCell   *lc;

	foreach(lc, plan->views)
	{
		PitView    *pv = lfirst(lc);

		for (int slot = 0; slot < pv->pre_parts; slot++)
			if (pv->spine_parts[slot] != NULL)
				pit_file_park(pv->spine_parts[slot]);
	}
}

/*
 * One spine record of a view: into memory while the records fit in a
 * quarter of the join's memory budget (their index needs several times
 * more, so a spine whose records do not fit is partitioned from the file,
 * and the records never hold more than that share of the budget).
 */
static void
write_spine_record(PitView *pv, uint32 hash)
{
	StringInfo	enc = &pv->enc;

	if (pv->pre_parts > 0)
	{
		/* straight into the file of its hash slot (pit_prepartition) */
		int			slot = (int) (hash & (uint32) (pv->pre_parts - 1));

		pit_write_encoded(pv->filecxt, &pv->spine_parts[slot], pv->part_buf, enc, hash,
						  &pv->spine_part_n[slot], &pv->spine_part_bytes[slot]);
		pv->spine_n++;
		pv->spine_bytes += enc->len;
		return;
	}

	if (pv->spine_file == NULL &&
		(Size) pv->spine_bytes + enc->len > pit_memory_budget() / 4)
	{
		/* too many: the ones so far go to a temp file first */
		MemoryContext old = MemoryContextSwitchTo(pv->filecxt);

		pv->spine_file = pit_file_create(NULL, NULL, PIT_FILE_MAX_BUF);
		MemoryContextSwitchTo(old);
		if (pv->spine_mem != NULL)
		{
			pit_file_write(pv->spine_file, pv->spine_mem, pv->spine_bytes);
			pfree(pv->spine_mem);
			pv->spine_mem = NULL;
		}
	}
	if (pv->spine_file != NULL)
	{
		pit_write_encoded(pv->filecxt, &pv->spine_file, PIT_FILE_MAX_BUF, enc, hash, &pv->spine_n, &pv->spine_bytes);
		return;
	}
	if ((Size) pv->spine_bytes + enc->len > pv->spine_cap)
	{
		Size		cap = Max(pv->spine_cap * 2, (Size) 64 * 1024);

		while (cap < (Size) pv->spine_bytes + enc->len)
			cap *= 2;
		pv->spine_mem = pv->spine_mem == NULL ?
			MemoryContextAllocHuge(pv->filecxt, cap) : repalloc_huge(pv->spine_mem, cap);
		pv->spine_cap = cap;
	}
	((uint32 *) enc->data)[0] = hash;
	memcpy(pv->spine_mem + pv->spine_bytes, enc->data, enc->len);
	pv->spine_bytes += enc->len;
	pv->spine_n++;
}

/* The next record of the spine's in memory, or NULL. */
char *
pit_next_spine_record(PitView *pv, int64 *off)
{
	char	   *rec;

	if (*off >= pv->spine_bytes)
		return NULL;
	rec = pv->spine_mem + *off;
	*off += ((uint32 *) rec)[1];
	return rec;
}

/* A whole file of records in one buffer. */
char *
pit_read_partition(PitFile *file, int64 bytes)
{
	char	   *buf = palloc_extended(Max(bytes, 1), MCXT_ALLOC_HUGE);

	pit_read_whole(file, buf, bytes);
	return buf;
}

/* All bytes of a file, from its start, into buf. */
void
pit_read_whole(PitFile *file, char *buf, int64 bytes)
{
	int64		done = 0;

	pit_rewind_run(file);
	while (done < bytes)
	{
		size_t		got = pit_file_read(file, buf + done, Min(bytes - done, (int64) 1 << 30));

		if (got == 0)
			elog(ERROR, "pushsource: truncated point-in-time temp file");
		done += got;
	}
}

/* The next record of a file being streamed (into buf, reused), or NULL. */
char *
pit_read_encoded(PitFile *file, StringInfo buf)
{
	uint32		head[2];
	size_t		got = pit_file_read(file, head, sizeof(head));

	if (got == 0)
		return NULL;
	if (got != sizeof(head) || head[1] < sizeof(head))
		elog(ERROR, "pushsource: truncated point-in-time temp file");
	resetStringInfo(buf);
	enlargeStringInfo(buf, head[1]);
	memcpy(buf->data, head, sizeof(head));
	if (pit_file_read(file, buf->data + sizeof(head), head[1] - sizeof(head)) != head[1] - sizeof(head))
		elog(ERROR, "pushsource: truncated point-in-time temp file");
	buf->len = head[1];
	return buf->data;
}


/*
 * Does the key type's default btree opclass say that equal values are
 * bitwise equal (btequalimage: integers, timestamps, text under a
 * deterministic collation; not floats or numeric)?  Then keys are compared
 * by their images, and by-value keys hashed by their bits: the hash only
 * has to agree between the spine and the feature rows of one join.
 */
static bool
key_equal_is_image(Oid typid, Oid coll)
{
	TypeCacheEntry *tc = lookup_type_cache(typid, TYPECACHE_BTREE_OPFAMILY);
	Oid			proc;

	if (!OidIsValid(tc->btree_opf))
		return false;
	proc = get_opfamily_proc(tc->btree_opf, tc->btree_opintype, tc->btree_opintype,
							 BTEQUALIMAGE_PROC);
	if (!OidIsValid(proc))
		return false;
	return DatumGetBool(OidFunctionCall1Coll(proc, coll, ObjectIdGetDatum(tc->btree_opintype)));
}

/* MurmurHash3's 64-bit finalizer, folded to 32 bits */
static inline uint32
mix_datum(Datum d)
{
	uint64		x = (uint64) d;

	x ^= x >> 33;
	x *= UINT64CONST(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64CONST(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return (uint32) x;
}

uint32
pit_hash_keys(PitView *pv, Datum *vals)
{
	uint32		h = 0;

	for (int k = 0; k < pv->view->nkeys; k++)
		h = hash_combine(h, pv->key_image[k] && pv->codec_byval[k] ? mix_datum(vals[k]) :
						 DatumGetUInt32(FunctionCall1Coll(&pv->hashfn[k], pv->hashcoll[k], vals[k])));
	return h;
}

/*
 * A ttl is a fixed length when it has no months, and no days either unless
 * the session's time zone has one fixed offset (no daylight saving time):
 * then T - ttl is plain arithmetic, as timestamptz_mi_interval would get.
 */
static void
set_ttl_fixed(PitView *pv)
{
	Interval   *ttl = &pv->view->ttl;
	long		gmtoff;
	int64		days;

	pv->ttl_fixed = false;
	if (!pv->view->has_ttl || ttl->month != 0 ||
		(ttl->day != 0 && !pg_get_timezone_offset(session_timezone, &gmtoff)))
		return;
	if (pg_mul_s64_overflow((int64) ttl->day, USECS_PER_DAY, &days) ||
		pg_add_s64_overflow(days, ttl->time, &pv->ttl_usec))
		return;
	pv->ttl_fixed = true;
}

/* T - ttl for a fixed ttl; infinite times stay as they are */
static inline TimestampTz
ttl_oldest(PitView *pv, TimestampTz t)
{
	TimestampTz r;

	if (TIMESTAMP_NOT_FINITE(t))
		return t;
	if (pg_sub_s64_overflow(t, pv->ttl_usec, &r))
		return DT_NOBEGIN;
	return r;
}

static void
init_batch(PitView *pv)
{
	pv->batch.vals = palloc(sizeof(Datum) * PROBE_BATCH * pv->ncodec);
	pv->batch.nulls = palloc(sizeof(bool) * PROBE_BATCH * pv->ncodec);
	pv->batch.arena = AllocSetContextCreate(CurrentMemoryContext, "pit probe batch",
											ALLOCSET_DEFAULT_SIZES);
}

/*
 * Spilled feature rows whose columns are all passed by value have a fixed
 * layout (hash, null bits, one Datum per column), a third smaller than
 * the aligned, self-describing encoding.
 */
void
pit_spill_format(PitView *pv)
{
	pv->spill_fixed = sizeof(uint32) + (pv->ncodec + 7) / 8 + sizeof(Datum) * pv->ncodec;
	for (int i = 0; i < pv->ncodec; i++)
		if (!pv->codec_byval[i])
			pv->spill_fixed = 0;
	if (pv->spill_fixed > 0)
		enlargeStringInfo(&pv->enc, pv->spill_fixed);
}

/* Hash functions, codecs and descriptors of one view. */
void
pit_begin_view_join(PitView *pv, bool from_source)
{
	PsView	   *v = pv->view;
	PsSource   *src = v->source;
	int			nk = v->nkeys;

	pv->hashfn = palloc0(sizeof(FmgrInfo) * Max(nk, 1));
	pv->hashcoll = palloc0(sizeof(Oid) * Max(nk, 1));
	pv->key_image = palloc0(sizeof(bool) * Max(nk, 1));
	for (int k = 0; k < nk; k++)
	{
		PsColumn   *c = &src->cols[v->key_cols[k]];
		TypeCacheEntry *tc = lookup_type_cache(c->type->typid, TYPECACHE_HASH_PROC_FINFO);

		if (!OidIsValid(tc->hash_proc_finfo.fn_oid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("join key \"%s\" of feature view \"%s\" has type %s, which has no hash function",
							c->name, v->name, format_type_be(c->type->typid))));
		fmgr_info_copy(&pv->hashfn[k], &tc->hash_proc_finfo, CurrentMemoryContext);
		pv->hashcoll[k] = get_typcollation(c->type->typid);
		pv->key_image[k] = key_equal_is_image(c->type->typid, pv->hashcoll[k]);
	}

	pv->result_desc = CreateTemplateTupleDesc(pv->nfeat + 1);
	TupleDescInitEntry(pv->result_desc, 1, "pos", INT8OID, -1, 0);
	for (int f = 0; f < pv->nfeat; f++)
		TupleDescInitEntry(pv->result_desc, f + 2, pv->out_names[f], pv->feat_types[f],
						   pv->feat_typmods[f], 0);
	pv->rvals = palloc(sizeof(Datum) * (pv->nfeat + 1));
	pv->rnulls = palloc(sizeof(bool) * (pv->nfeat + 1));

	pv->nscodec = nk + 2;
	pv->scodec_len = palloc(sizeof(int16) * pv->nscodec);
	pv->scodec_byval = palloc(sizeof(bool) * pv->nscodec);
	pv->ncodec = nk + 2 + pv->nfeat;
	pv->codec_len = palloc(sizeof(int16) * pv->ncodec);
	pv->codec_byval = palloc(sizeof(bool) * pv->ncodec);
	for (int i = 0; i < pv->ncodec; i++)
	{
		Oid			t = i < nk ? src->cols[v->key_cols[i]].type->typid
			: i == nk ? TIMESTAMPTZOID : i == nk + 1 ? INT8OID : pv->feat_types[i - nk - 2];

		get_typlenbyval(t, &pv->codec_len[i], &pv->codec_byval[i]);
		if (i < nk + 2)
		{
			pv->scodec_len[i] = pv->codec_len[i];
			pv->scodec_byval[i] = pv->codec_byval[i];
		}
	}
	pv->scodec_len[nk] = 8;		/* T and position: by value */
	pv->scodec_byval[nk] = true;
	pv->scodec_len[nk + 1] = 8;
	pv->scodec_byval[nk + 1] = true;
	initStringInfo(&pv->enc);
	initStringInfo(&pv->rbuf);
	pv->filecxt = CurrentMemoryContext;
	pv->seen = palloc0(SEEN_BITS / 8);
	pv->ord_is_tid = from_source;
	pv->stride = MAXALIGN(sizeof(Cand) + pv->nfeat * sizeof(Datum) + 1 + pv->nfeat);
	set_ttl_fixed(pv);
	pit_spill_format(pv);
	for (int i = 0; i < pv->ncodec; i++)
		if (i != nk && i != nk + 1 && !pv->codec_byval[i])
			pv->has_byref = true;
	init_batch(pv);
}

/*
 * The feature rows a view can contribute: keys, ts, ingest order, the
 * columns cols (its features; an aggregate view's value columns).
 */
char *
pit_feature_query(PitView *pv, PitPlan *plan, bool bounded_below, int ncols, const int *cols)
{
	return ps_store_history_sql(pv->view, pit_history_relid(plan, pv->view), plan->from_source,
								bounded_below, ncols, cols);
}

/* The table the join reads for view v: its offline store, its source's log or fs_run's mock */
Oid
pit_history_relid(PitPlan *plan, PsView *v)
{
	if (OidIsValid(plan->mock_relid))
		return plan->mock_relid;
	return plan->from_source ? v->source->relid : v->offline_relid;
}

void
pit_receiver_noop_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

/*
 * The startup of a receiver of feature rows (its struct begins as
 * PitViewReceiver): the rows' columns must be of the source's types.
 */
void
pit_feature_receiver_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	pit_check_feature_desc(((PitViewReceiver *) self)->pv->view, typeinfo);
}

void
pit_receiver_noop(DestReceiver *self)
{
}

/* ---------------------------------------------------------------------
 * Reading the spine: kept in order for the output, and per view its
 * (keys, T, position) records written to a temp file.
 * --------------------------------------------------------------------- */


bool
pit_spine_receive(TupleTableSlot *slot, DestReceiver *self)
{
	SpineReceiver *r = (SpineReceiver *) self;
	PitPlan    *plan = r->plan;
	ListCell   *lc;
	Datum	   *sv;
	bool	   *sn;

	slot_getallattrs(slot);
	sv = slot->tts_values;
	sn = slot->tts_isnull;
	if (r->spine == NULL)
		;						/* a table's rows, read again for the output */
	else if (slot->tts_tupleDescriptor->natts == plan->nspine &&
		(TTS_IS_BUFFERTUPLE(slot) || TTS_IS_HEAPTUPLE(slot)) &&
		HeapTupleHeaderGetNatts(ExecFetchSlotHeapTuple(slot, false, NULL)->t_data) == plan->nspine)
	{
		/* a table's row as it is (no dropped or added columns): a copy */
		tuplestore_puttuple(r->spine, ExecFetchSlotHeapTuple(slot, false, NULL));
	}
	else
		tuplestore_putvalues(r->spine, plan->spine_desc, sv, sn);
	if (!sn[plan->t_att])
	{
		TimestampTz t = DatumGetTimestampTz(sv[plan->t_att]);

		r->min_t = Min(r->min_t, t);
		r->max_t = Max(r->max_t, t);
		foreach(lc, plan->views)
		{
			PitView    *pv = lfirst(lc);
			int			nk = pv->view->nkeys;
			bool		null_key = false;
			uint32		h;

			for (int k = 0; k < nk; k++)
			{
				r->vals[k] = sv[pv->spine_key_att[k]];
				r->nulls[k] = sn[pv->spine_key_att[k]];
				null_key |= r->nulls[k];
			}
			if (null_key)
				continue;		/* never matches: its features stay NULL */
			r->vals[nk] = sv[plan->t_att];
			r->nulls[nk] = false;
			r->vals[nk + 1] = Int64GetDatum(r->pos);
			r->nulls[nk + 1] = false;
			h = pit_hash_keys(pv, r->vals);
			pv->seen[(h % SEEN_BITS) / 64] |= UINT64CONST(1) << (h % 64);
			encode_values(&pv->enc, pv->nscodec, pv->scodec_len, pv->scodec_byval, r->vals, r->nulls);
			write_spine_record(pv, h);
		}
	}
	r->pos++;
	CHECK_FOR_INTERRUPTS();
	return true;
}

/* ---------------------------------------------------------------------
 * The index of one partition of spine records
 * --------------------------------------------------------------------- */

/* Are two key tuples equal? */
static inline bool
keys_equal(PitView *pv, Datum *a, Datum *b)
{
	for (int k = 0; k < pv->view->nkeys; k++)
	{
		if (!pv->key_image[k])
		{
			if (ApplySortComparator(a[k], false, b[k], false, &pv->ssup[k]) != 0)
				return false;
		}
		else if (pv->codec_byval[k] ? a[k] != b[k] :
				 !datum_image_eq(a[k], b[k], false, pv->codec_len[k]))
			return false;
	}
	return true;
}

int
pit_compare_key_datums(PitView *pv, Datum *a, Datum *b)
{
	for (int k = 0; k < pv->view->nkeys; k++)
	{
		int			c = ApplySortComparator(a[k], false, b[k], false, &pv->ssup[k]);

		if (c != 0)
			return c;
	}
	return 0;
}

static int
cmp_spine(const void *a, const void *b, void *arg)
{
	const SpineEnt *x = a;
	const SpineEnt *y = b;
	int			c;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if ((c = pit_compare_key_datums(arg, x->keys, y->keys)) != 0)
		return c;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * The main sort compares only (hash, time, position): integers, inlined.
 * Runs of one hash shared by different keys are sorted again by keys, with
 * the typed comparators above, in pit_build_index.
 */
#define ST_SORT sort_spine_fast
#define ST_ELEMENT_TYPE SpineEnt
#define ST_COMPARE(a, b) \
	((a)->hash != (b)->hash ? ((a)->hash < (b)->hash ? -1 : 1) : \
	 (a)->t != (b)->t ? ((a)->t < (b)->t ? -1 : 1) : \
	 ((a)->pos < (b)->pos ? -1 : (a)->pos > (b)->pos))
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * Records are first grouped by a bucket of hash bits above the partition
 * bits (one counting pass), then each small bucket is sorted: the order is
 * (bucket, hash, time, position).
 */
static SpineEnt *
bucket_sort_spine(SpineEnt *a, int64 n, int shift)
{
	uint32		mask = 0;
	int64	   *start;
	int64	   *next;
	SpineEnt   *out;

	while ((int64) mask + 1 < n / 16 && mask < (1u << 20) - 1)
		mask = mask * 2 + 1;
	if (shift + 20 > 32)
		mask &= (uint32) ((UINT64CONST(1) << (32 - shift)) - 1);
	start = palloc0(sizeof(int64) * ((Size) mask + 2));
	next = palloc(sizeof(int64) * ((Size) mask + 1));
	out = palloc_extended(sizeof(SpineEnt) * Max(n, 1), MCXT_ALLOC_HUGE);
	for (int64 i = 0; i < n; i++)
		start[((a[i].hash >> shift) & mask) + 1]++;
	for (uint32 b = 0; b <= mask; b++)
		start[b + 1] += start[b];
	memcpy(next, start, sizeof(int64) * ((Size) mask + 1));
	for (int64 i = 0; i < n; i++)
		out[next[(a[i].hash >> shift) & mask]++] = a[i];
	for (uint32 b = 0; b <= mask; b++)
		if (start[b + 1] - start[b] > 1)
			sort_spine_fast(out + start[b], start[b + 1] - start[b]);
	pfree(start);
	pfree(next);
	return out;
}

/*
 * Index n encoded spine records (in buf, which the keys keep pointing
 * into) in a new context under the current one.
 */
PitIndex *
pit_build_index(PitView *pv, char *buf, int64 n)
{
	PsView	   *v = pv->view;
	int			nk = v->nkeys;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "pit index", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	PitIndex   *ix = palloc0(sizeof(PitIndex));
	Datum	   *dvals = palloc(sizeof(Datum) * pv->nscodec);
	bool	   *dnulls = palloc(sizeof(bool) * pv->nscodec);
	SpineEnt   *ents = palloc_extended(sizeof(SpineEnt) * Max(n, 1), MCXT_ALLOC_HUGE);
	Datum	   *keys = palloc_extended(sizeof(Datum) * Max(n * nk, 1), MCXT_ALLOC_HUGE);
	char	   *rec = buf;
	int			shift = 0;
	Size		dirsize = 16;
	int64		ng = 0;

	ix->cxt = cxt;
	ix->valcxt = AllocSetContextCreate(cxt, "pit feature values", ALLOCSET_DEFAULT_SIZES);
	for (int64 i = 0; i < n; i++)
	{
		TimestampTz t;

		pit_decode_values(rec, nk + 2, pv->scodec_len, pv->scodec_byval, dvals, dnulls, pv->nscodec);
		ents[i].hash = ((uint32 *) rec)[0];
		ents[i].keys = keys + i * nk;
		memcpy(ents[i].keys, dvals, sizeof(Datum) * nk);
		t = DatumGetTimestampTz(dvals[nk]);
		ents[i].t = t;
		ents[i].pos = DatumGetInt64(dvals[nk + 1]);
		/* the oldest event time the ttl lets match at T */
		ents[i].oldest = !v->has_ttl ? DT_NOBEGIN : pv->ttl_fixed ? ttl_oldest(pv, t) :
			DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval, TimestampTzGetDatum(t),
													IntervalPGetDatum(&v->ttl)));
		rec += ((uint32 *) rec)[1];
	}
	while ((1 << shift) < pv->nparts)
		shift++;
	ix->ents = bucket_sort_spine(ents, n, shift);
	pfree(ents);
	ix->nents = n;
	ents = ix->ents;

	/* runs of one hash: ordered by keys too where keys differ, then grouped */
	ix->groups = palloc_extended(sizeof(SpineGroup) * Max(n, 1), MCXT_ALLOC_HUGE);
	if (nk > 1)
		ix->gkeys = palloc_extended(sizeof(Datum) * n * nk, MCXT_ALLOC_HUGE);
	for (int64 i = 0; i < n;)
	{
		int64		j = i + 1;
		bool		uniform = true;

		while (j < n && ents[j].hash == ents[i].hash)
		{
			uniform = uniform && keys_equal(pv, ents[i].keys, ents[j].keys);
			j++;
		}
		if (!uniform)
			qsort_arg(ents + i, j - i, sizeof(SpineEnt), cmp_spine, pv);
		for (int64 k = i; k < j;)
		{
			int64		m = k + 1;

			while (m < j && (uniform || keys_equal(pv, ents[k].keys, ents[m].keys)))
				m++;
			ix->groups[ng].start = k;
			ix->groups[ng].end = m;
			/* one key: where the probe reads the group anyway */
			ix->groups[ng].key0 = nk == 1 ? ents[k].keys[0] : (Datum) 0;
			if (nk > 1)
				memcpy(ix->gkeys + ng * nk, ents[k].keys, sizeof(Datum) * nk);
			ng++;
			k = m;
		}
		i = j;
	}
	ix->ngroups = ng;
	if (ng >= (int64) PG_UINT32_MAX / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct join keys in the spine for feature view \"%s\"", v->name),
				 errhint("Lower pushsource.pit_memory, so that the spine is split into more partitions.")));

	/* the directory: every group under its hash, by open addressing */
	while (dirsize < (Size) ng * 2)
		dirsize *= 2;
	ix->dir = palloc_extended(sizeof(DirEnt) * dirsize, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	ix->dirmask = (uint32) (dirsize - 1);
	for (int64 g = 0; g < ng; g++)
	{
		uint32		h = ents[ix->groups[g].start].hash;
		uint32		d = murmurhash32(h) & ix->dirmask;

		while (ix->dir[d].group != 0)
			d = (d + 1) & ix->dirmask;
		ix->dir[d].hash = h;
		ix->dir[d].group = (uint32) (g + 1);
	}
	ix->times = palloc_extended(sizeof(TimestampTz) * Max(n, 1), MCXT_ALLOC_HUGE);
	for (int64 i = 0; i < n; i++)
		ix->times[i] = ents[i].t;
	if (v->has_ttl && !pv->ttl_fixed)
	{
		ix->oldest = palloc_extended(sizeof(TimestampTz) * Max(n, 1), MCXT_ALLOC_HUGE);
		for (int64 i = 0; i < n; i++)
			ix->oldest[i] = ents[i].oldest;
	}
	ix->cands = palloc_extended(pv->stride * Max(n, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	MemoryContextSwitchTo(old);
	return ix;
}

/* A copy of a feature value that outlives the row it came from. */
static Datum
copy_feature_value(MemoryContext cxt, Datum d, int16 len)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Datum		res;

	if (len == -1)
	{
		struct varlena *v = PG_DETOAST_DATUM_PACKED(d);

		if ((Pointer) v == DatumGetPointer(d))
		{
			Size		sz = VARSIZE_ANY(v);

			v = palloc(sz);
			memcpy(v, DatumGetPointer(d), sz);
		}
		res = PointerGetDatum(v);
	}
	else
		res = datumCopy(d, false, len);
	MemoryContextSwitchTo(old);
	return res;
}

/*
 * A batch of feature rows (keys, ts, order, features) meets the index: a
 * row becomes the candidate of its key's first spine record with T >= ts
 * if it is newer than the candidate there.  A row older than that record's
 * ttl bound can match no later record either (their bounds are later), so
 * it is dropped.  Stages: directory slot, group, keys and times, record,
 * candidate; each prefetches what the next one reads.
 */
void
pit_probe_batch(PitView *pv, PitIndex *ix)
{
	ProbeBatch *b = &pv->batch;
	int			nk = pv->view->nkeys;
	int			nc = pv->ncodec;
	DirEnt	   *dir = ix->dir;
	uint32		mask = ix->dirmask;

	for (int i = 0; i < b->n; i++)
	{
		b->slot[i] = murmurhash32(b->hash[i]) & mask;
		__builtin_prefetch(&dir[b->slot[i]]);
	}
	for (int i = 0; i < b->n; i++)
	{
		uint32		d = b->slot[i];

		while (dir[d].group != 0 && dir[d].hash != b->hash[i])
			d = (d + 1) & mask;
		b->slot[i] = d;
		b->at[i] = (int64) dir[d].group - 1;
		if (b->at[i] >= 0)
			__builtin_prefetch(&ix->groups[b->at[i]]);
	}
	for (int i = 0; i < b->n; i++)
	{
		int64		g = b->at[i];
		uint32		d = b->slot[i];
		SpineGroup *gr;

		if (g < 0)
			continue;
		/* different keys may share the hash: later entries of the directory */
		while (nk > 0 && !keys_equal(pv, b->vals + i * nc, GROUP_KEYS(ix, g, nk)))
		{
			do
				d = (d + 1) & mask;
			while (dir[d].group != 0 && dir[d].hash != b->hash[i]);
			g = (int64) dir[d].group - 1;
			if (g < 0)
				break;
		}
		b->at[i] = g;
		if (g < 0)
			continue;
		gr = &ix->groups[g];
		__builtin_prefetch(&ix->times[gr->start]);
		if (gr->end - gr->start > 8)
			__builtin_prefetch(&ix->times[gr->start + (gr->end - gr->start) / 2]);
	}
	for (int i = 0; i < b->n; i++)
	{
		SpineGroup *gr;
		TimestampTz ts;
		int64		lo,
					hi;

		if (b->at[i] < 0)
			continue;
		gr = &ix->groups[b->at[i]];
		ts = DatumGetTimestampTz(b->vals[i * nc + nk]);
		lo = gr->start;
		hi = gr->end;
		while (lo < hi)
		{
			int64		mid = lo + (hi - lo) / 2;

			if (ix->times[mid] < ts)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == gr->end ||
			(pv->view->has_ttl &&
			 ts < (pv->ttl_fixed ? ttl_oldest(pv, ix->times[lo]) : ix->oldest[lo])))
			lo = -1;
		b->at[i] = lo;
		if (lo >= 0)
			__builtin_prefetch(ix->cands + lo * pv->stride);
	}
	for (int i = 0; i < b->n; i++)
	{
		Datum	   *vals = b->vals + i * nc;
		bool	   *nulls = b->nulls + i * nc;
		TimestampTz ts = DatumGetTimestampTz(vals[nk]);
		int64		ord = DatumGetInt64(vals[nk + 1]);
		Cand	   *c;
		Datum	   *cv;
		bool	   *cn;
		bool		had;

		if (b->at[i] < 0)
			continue;
		c = (Cand *) (ix->cands + b->at[i] * pv->stride);
		had = CAND_HAS(c, pv->nfeat);
		if (had && (c->ts > ts || (c->ts == ts && c->ord >= ord)))
			continue;
		cv = CAND_VALS(c);
		cn = CAND_NULLS(c, pv->nfeat);
		for (int f = 0; f < pv->nfeat; f++)
		{
			int			k = nk + 2 + f;

			if (had && !cn[f] && !pv->codec_byval[k])
				pfree(DatumGetPointer(cv[f]));
			cv[f] = nulls[k] ? (Datum) 0 : pv->codec_byval[k] ? vals[k] :
				copy_feature_value(ix->valcxt, vals[k], pv->codec_len[k]);
			cn[f] = nulls[k];
		}
		c->ts = ts;
		c->ord = ord;
		CAND_HAS(c, pv->nfeat) = true;
	}
	b->n = 0;
	if (pv->has_byref)
		MemoryContextReset(b->arena);
}

/* Queue a feature row for the index; by-reference values are copied. */
void
pit_probe_row(PitView *pv, PitIndex *ix, uint32 h, Datum *vals, bool *nulls)
{
	ProbeBatch *b = &pv->batch;
	int			nc = pv->ncodec;
	Datum	   *bv = b->vals + b->n * nc;
	bool	   *bn = b->nulls + b->n * nc;

	if (bv != vals)
	{
		memcpy(bv, vals, sizeof(Datum) * nc);
		memcpy(bn, nulls, sizeof(bool) * nc);
	}
	if (pv->has_byref)
		for (int i = 0; i < nc; i++)
			if (!bn[i] && !pv->codec_byval[i])
				bv[i] = copy_feature_value(b->arena, bv[i], pv->codec_len[i]);
	b->hash[b->n++] = h;
	if (b->n == PROBE_BATCH)
		pit_probe_batch(pv, ix);
}

/* A feature row of the scan: probed now, or kept for its partition. */
static void
feature_row(PitView *pv, Datum *vals, bool *nulls)
{
	uint32		h = pit_hash_keys(pv, vals);
	int			p = pit_part_of(pv, h);

	if (p == 0)
	{
		pit_probe_row(pv, pv->ix, h, vals, nulls);
		return;
	}
	if ((pv->seen[(h % SEEN_BITS) / 64] & (UINT64CONST(1) << (h % 64))) == 0)
		return;					/* no spine row has these keys */
	if (pv->feat_parts[p] == NULL)
		pv->feat_parts[p] = pit_spill_file(pv, 'f', p);
	if (pv->spill_fixed > 0)
	{
		/* [hash][null bits][each value's Datum], unaligned, no length */
		char	   *rec = pv->enc.data;
		int			nb = (pv->ncodec + 7) / 8;

		memcpy(rec, &h, sizeof(uint32));
		memset(rec + 4, 0, nb);
		for (int i = 0; i < pv->ncodec; i++)
		{
			if (nulls[i])
				rec[4 + i / 8] |= 1 << (i % 8);
			memcpy(rec + 4 + nb + i * sizeof(Datum), nulls[i] ? &(Datum){0} : &vals[i], sizeof(Datum));
		}
		pit_file_write(pv->feat_parts[p], rec, pv->spill_fixed);
		return;
	}
	encode_values(&pv->enc, pv->ncodec, pv->codec_len, pv->codec_byval, vals, nulls);
	pit_write_encoded(pv->filecxt, &pv->feat_parts[p], pv->part_buf, &pv->enc, h, NULL, NULL);
}

/*
 * The running maximum over each key's records in T order: the newest
 * candidate at or before a record is its as-of match, subject to the ttl
 * and the view's feature_start_time.  Results go to the position-indexed
 * array, or to the position buckets when the spine was partitioned.
 */
void
pit_finish_index(PitPlan *plan, PitView *pv, PitIndex *ix)
{
	PsView	   *v = pv->view;

	for (int64 g = 0; g < ix->ngroups; g++)
	{
		Cand	   *best = NULL;

		for (int64 i = ix->groups[g].start; i < ix->groups[g].end; i++)
		{
			SpineEnt   *e = &ix->ents[i];
			Cand	   *c = (Cand *) (ix->cands + i * pv->stride);

			if (CAND_HAS(c, pv->nfeat) &&
				(best == NULL || c->ts > best->ts || (c->ts == best->ts && c->ord > best->ord)))
				best = c;
			if (best == NULL || best->ts < e->oldest ||
				(v->has_start_time && e->t < v->start_time))
				continue;
			if (pv->res != NULL)
			{
				pv->res[e->pos] = best;
				continue;
			}
			pv->rvals[0] = Int64GetDatum(e->pos);
			pv->rnulls[0] = false;
			memcpy(pv->rvals + 1, CAND_VALS(best), sizeof(Datum) * pv->nfeat);
			memcpy(pv->rnulls + 1, CAND_NULLS(best, pv->nfeat), sizeof(bool) * pv->nfeat);
			{
				MinimalTuple mt = heap_form_minimal_tuple(pv->result_desc, pv->rvals, pv->rnulls);
				int			b = (int) (e->pos / plan->bucket_rows);

				if (pv->buckets[b] == NULL)
					pv->buckets[b] = pit_spill_file(pv, 'r', b);
				pit_write_record(pv, &pv->buckets[b], 0, mt);
				pfree(mt);
			}
		}
		if ((g & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Spilled records read a chunk at a time into one buffer: no call per
 * record, and no more memory than a chunk (or one record), however many
 * rows a partition got.  Self-describing records are MAXALIGNed, so they
 * stay aligned in it; fixed-width ones are read with memcpy.
 */
typedef struct SpillReader
{
	int			fixed;			/* the records' length, or 0: in their header */
	PitFile    *file;
	char	   *buf;
	Size		cap;
	Size		len;
	Size		pos;
} SpillReader;

#define SPILL_CHUNK (256 * 1024)

static char *
spill_next(SpillReader *r)
{
	for (;;)
	{
		Size		avail = r->len - r->pos;
		size_t		got;

		if (r->fixed > 0 ? avail >= (Size) r->fixed :
			avail >= 8 && avail >= ((uint32 *) (r->buf + r->pos))[1])
		{
			char	   *rec = r->buf + r->pos;

			r->pos += r->fixed > 0 ? (Size) r->fixed : (Size) ((uint32 *) rec)[1];
			return rec;
		}
		memmove(r->buf, r->buf + r->pos, avail);
		r->len = avail;
		r->pos = 0;
		if (r->fixed == 0 && avail >= 8 && ((uint32 *) r->buf)[1] > r->cap)
		{
			r->cap = MAXALIGN(((uint32 *) r->buf)[1]);
			r->buf = repalloc(r->buf, r->cap);
		}
		got = pit_file_read(r->file, r->buf + r->len, r->cap - r->len);
		if (got == 0)
		{
			if (avail > 0)
				elog(ERROR, "pushsource: truncated point-in-time temp file");
			return NULL;
		}
		r->len += got;
	}
}

/*
 * One partition of a partitioned spine: index its n records (read from
 * spine, NULL when it has none), probe the feature rows spilled for it
 * (nfeat files, any of them NULL), write the results.  Its memory is freed
 * after; the files are closed.
 */
void
pit_join_partition(PitPlan *plan, PitView *pv, PitFile *spine, int64 n, int64 bytes,
				   PitFile **feat, int nfeat)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "pit partition",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Datum	   *vals = palloc(sizeof(Datum) * pv->ncodec);
	bool	   *nulls = palloc(sizeof(bool) * pv->ncodec);
	char	   *buf = NULL;
	char	   *rec;
	PitIndex   *ix;

	if (spine != NULL)
	{
		buf = pit_read_partition(spine, bytes);
		pit_file_close(spine);
	}
	ix = pit_build_index(pv, buf, n);
	for (int i = 0; i < nfeat; i++)
	{
		SpillReader r;

		if (feat[i] == NULL)
			continue;
		pit_rewind_run(feat[i]);
		r.fixed = pv->spill_fixed;
		r.file = feat[i];
		r.cap = SPILL_CHUNK;
		r.buf = palloc(r.cap);
		r.len = r.pos = 0;
		while ((rec = spill_next(&r)) != NULL)
		{
			uint32		h;

			memcpy(&h, rec, sizeof(uint32));
			if (r.fixed > 0)
			{
				int			nb = (pv->ncodec + 7) / 8;

				for (int c = 0; c < pv->ncodec; c++)
				{
					nulls[c] = (rec[4 + c / 8] & (1 << (c % 8))) != 0;
					memcpy(&vals[c], rec + 4 + nb + c * sizeof(Datum), sizeof(Datum));
				}
			}
			else
				pit_decode_values(rec, pv->ncodec, pv->codec_len, pv->codec_byval, vals, nulls, pv->ncodec);
			pit_probe_row(pv, ix, h, vals, nulls);
		}
		pfree(r.buf);
		pit_file_close(feat[i]);
		feat[i] = NULL;
	}
	pit_probe_batch(pv, ix);
	pit_finish_index(plan, pv, ix);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	CHECK_FOR_INTERRUPTS();
}

int64
pit_tid_order(ItemPointer ip)
{
	return ((int64) ItemPointerGetBlockNumberNoCheck(ip) << 16) | ItemPointerGetOffsetNumberNoCheck(ip);
}

/* ---------------------------------------------------------------------
 * Scanning the feature rows
 * --------------------------------------------------------------------- */

typedef struct FeatureReceiver
{
	DestReceiver pub;			/* begins as PitViewReceiver */
	PitView    *pv;
} FeatureReceiver;

static bool
feature_receive(TupleTableSlot *slot, DestReceiver *self)
{
	PitView    *pv = ((FeatureReceiver *) self)->pv;
	int			nk = pv->view->nkeys;

	slot_getallattrs(slot);
	if (pv->ord_is_tid)
		slot->tts_values[nk + 1] = Int64GetDatum(pit_tid_order((ItemPointer) DatumGetPointer(slot->tts_values[nk + 1])));
	feature_row(pv, slot->tts_values, slot->tts_isnull);
	CHECK_FOR_INTERRUPTS();
	return true;
}

/* What the scan of a view's feature rows reads and keeps. */
typedef struct PitScanSpec
{
	AttrNumber	maxatt;
	bool		from_source;	/* order by ctid; feature_start_time applies */
	bool		bounded;		/* a lower bound (ttl) */
	bool		has_start_time;
	TimestampTz max_t;
	TimestampTz lower;
	TimestampTz start_time;
	AttrNumber	atts[FLEXIBLE_ARRAY_MEMBER];	/* per codec column; 0: ctid */
} PitScanSpec;

/* Feed every row of a heap scan in range to the index (or its partition). */
static void
scan_loop(PitView *pv, Relation rel, TableScanDesc scan, PitScanSpec *spec)
{
	int			nk = pv->view->nkeys;
	int			ncols = pv->ncodec;
	ProbeBatch *b = &pv->batch;
	TupleDesc	desc = RelationGetDescr(rel);
	TupleTableSlot *slot = NULL;
	int32	   *offs = palloc(sizeof(int32) * ncols);
	Form_pg_attribute *attrs = palloc(sizeof(Form_pg_attribute) * ncols);
	HeapTuple	tup;
	int64		n = 0;

	/*
	 * When the columns up to the last one read all have a fixed width, a
	 * tuple without NULLs has each value at a fixed offset: read there.
	 * Other tuples are deformed by a slot up to that column.
	 */
	slot = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
	for (int a = 1, off = 0; a <= spec->maxatt; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a - 1);

		if (att->attlen <= 0)
		{
			offs = NULL;
			break;
		}
		off = att_align_nominal(off, att->attalign);
		for (int i = 0; i < ncols; i++)
			if (spec->atts[i] == a)
			{
				offs[i] = off;
				attrs[i] = att;
			}
		off += att->attlen;
	}
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		TimestampTz ts;
		bool		skip = false;
		bool		fixed = offs != NULL && !HeapTupleHasNulls(tup) &&
			HeapTupleHeaderGetNatts(tup->t_data) >= spec->maxatt;
		/* decoded straight into the probe batch's next row */
		Datum	   *vals = b->vals + b->n * ncols;
		bool	   *nulls = b->nulls + b->n * ncols;

		if (!fixed)
		{
			ExecStoreHeapTuple(tup, slot, false);
			slot_getsomeattrs(slot, spec->maxatt);
		}
		for (int i = 0; i < ncols; i++)
		{
			AttrNumber	a = spec->atts[i];

			if (a == InvalidAttrNumber)
			{
				/* from_source: physical order stands in for ingest order */
				vals[i] = Int64GetDatum(pit_tid_order(&tup->t_self));
				nulls[i] = false;
				continue;
			}
			if (fixed)
			{
				vals[i] = fetchatt(attrs[i], (char *) tup->t_data + tup->t_data->t_hoff + offs[i]);
				nulls[i] = false;
				continue;
			}
			vals[i] = slot->tts_values[a - 1];
			nulls[i] = slot->tts_isnull[a - 1];
			if (i <= nk && nulls[i])
				skip = true;	/* no key or no time: never a match */
		}
		if (skip)
			continue;
		ts = DatumGetTimestampTz(vals[nk]);
		if (ts > spec->max_t || (spec->bounded && ts < spec->lower) ||
			(spec->from_source && spec->has_start_time && ts < spec->start_time))
			continue;
		feature_row(pv, vals, nulls);
		if ((++n & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	ExecDropSingleTupleTableSlot(slot);
}

/* ---------------------------------------------------------------------
 * The parallel scan
 *
 * When the spine's keys and features are passed by value, parallel
 * workers scan parts of the table with the leader (a parallel heap scan,
 * sized as the planner sizes a parallel sequential scan:
 * min_parallel_table_scan_size, and pit_max_workers()).  The
 * index (of partition 0 when the spine is partitioned) is copied into the
 * dynamic shared memory segment; every worker fills candidates of its own
 * there, and the leader takes the newest of each record's candidates.
 *
 * A partitioned spine is joined as a parallel hybrid hash join: in the
 * scan, each process spills the rows of partitions 1.. to files of its own
 * in a shared file set; then the workers are launched again, and the leader
 * and the workers take the partitions one at a time (an atomic counter),
 * each indexing the partition's spine records (copied into the set by the
 * leader), probing every process's spilled rows for it and writing its
 * results.  A worker's results go to one file of the set, whose records
 * the leader sorts into its own result buckets at the end.
 * --------------------------------------------------------------------- */

#define PIT_KEY_SHARED	UINT64CONST(0x7053504954000001)
#define PIT_KEY_SCAN	UINT64CONST(0x7053504954000002)
#define PIT_KEY_INDEX	UINT64CONST(0x7053504954000003)
#define PIT_KEY_CANDS	UINT64CONST(0x7053504954000004)
#define PIT_KEY_PARTS	UINT64CONST(0x7053504954000005)

typedef struct PitSharedCol
{
	int16		len;
	bool		byval;
	Oid			typid;
	int32		typmod;
	Oid			hashproc;		/* keys: hash function, collation, "<" */
	Oid			coll;
	Oid			ltop;
	bool		image;			/* keys: equality is image equality */
} PitSharedCol;

typedef struct PitShared
{
	Oid			relid;
	NameData	viewname;
	int			nkeys;
	int			nfeat;
	bool		has_ttl;
	bool		ttl_fixed;
	int64		ttl_usec;
	Interval	ttl;
	bool		has_start_time;
	TimestampTz start_time;
	Size		stride;
	int64		nents;
	int64		ngroups;
	uint32		dirmask;
	Size		off_groups;		/* offsets into the index chunk */
	Size		off_gkeys;
	Size		off_dir;
	Size		off_times;
	Size		off_oldest;
	Size		index_size;
	Size		cands_size;		/* per worker */
	Size		spec_size;
	/* a partitioned spine */
	int			nparts;
	int			p0_slots;
	int			phase;			/* 1: scan, 2: join partitions 1.. */
	int			nprocs_scan;	/* processes that scanned (leader + workers) */
	int64		bucket_rows;
	int			nbuckets;
	pg_atomic_uint32 next_part;
	SharedFileSet fileset;
	/* the codec columns, then the scan spec */
	PitSharedCol cols[FLEXIBLE_ARRAY_MEMBER];
} PitShared;

#define PIT_SHARED_SPEC(sh, ncodec) \
	((PitScanSpec *) ((char *) (sh) + MAXALIGN(offsetof(PitShared, cols) + sizeof(PitSharedCol) * (ncodec))))

/*
 * The parts chunk of a partitioned spine: the seen-keys bitset, then the
 * record counts and byte sizes of the spine's partitions.
 */
#define PARTS_SEEN(c)		((uint64 *) (c))
#define PARTS_N(c)			((int64 *) ((char *) (c) + SEEN_BITS / 8))
#define PARTS_BYTES(c, np)	(PARTS_N(c) + (np))
#define PARTS_SIZE(np)		(SEEN_BITS / 8 + sizeof(int64) * 2 * (np))

/* How many workers, as for a parallel sequential scan of the table; 0: none. */
static int
parallel_workers_for(PitView *pv, Relation rel)
{
	BlockNumber pages;
	double		threshold;
	int			n = 0;
	int			max_workers = pit_max_workers();

	if (IsInParallelMode() || max_workers <= 0 ||
		RelationUsesLocalBuffers(rel))
		return 0;				/* workers cannot read a temporary table (a mock) */
	for (int i = 0; i < pv->ncodec; i++)
		if (!pv->codec_byval[i])
			return 0;			/* candidates in shared memory hold values only */
	pages = RelationGetNumberOfBlocks(rel);
	threshold = Max(min_parallel_table_scan_size, 1);
	if (pages < (BlockNumber) min_parallel_table_scan_size)
		return 0;
	n = 1;
	while ((double) pages >= threshold * 3 && n < max_workers)
	{
		n++;
		threshold *= 3;
	}
	return Min(n, max_workers);
}

/*
 * The partitions 1.. of a partitioned spine not taken yet, one at a time,
 * in the leader or a worker.
 */
static void
join_shared_partitions(PitPlan *plan, PitView *pv, PitShared *sh, char *parts)
{
	PitFile   **feat = palloc(sizeof(PitFile *) * sh->nprocs_scan);

	for (;;)
	{
		uint32		p = pg_atomic_fetch_add_u32(&sh->next_part, 1);
		char		name[MAXPGPATH];
		PitFile    *spine = NULL;

		if (p >= (uint32) sh->nparts)
			break;
		if (PARTS_N(parts)[p] > 0)
		{
			snprintf(name, sizeof(name), "s.0.%u", p);
			spine = pit_file_open(&sh->fileset.fs, name, false);
		}
		for (int proc = 0; proc < sh->nprocs_scan; proc++)
		{
			snprintf(name, sizeof(name), "f.%d.%u", proc, p);
			feat[proc] = pit_file_open(&sh->fileset.fs, name, true);
		}
		pit_join_partition(plan, pv, spine, PARTS_N(parts)[p], PARTS_BYTES(parts, sh->nparts)[p],
						   feat, sh->nprocs_scan);
	}
	pfree(feat);
}

/* Close the spill files of the scan (a file set's are then complete). */
static void
close_spill_files(PitView *pv)
{
	for (int p = 0; pv->feat_parts != NULL && p < pv->nparts; p++)
		if (pv->feat_parts[p] != NULL)
		{
			pit_file_close(pv->feat_parts[p]);
			pv->feat_parts[p] = NULL;
		}
}

/*
 * The leader of a partitioned spine, before the workers start: the spine
 * records of partitions 1.. into the file set, where every process can
 * read them, and the spilled rows of the scan there too.
 */
static void
share_partitions(PitView *pv, PitShared *sh, char *parts)
{
	memcpy(PARTS_SEEN(parts), pv->seen, SEEN_BITS / 8);
	for (int p = 1; p < pv->nparts; p++)
	{
		char		name[MAXPGPATH];
		PitFile    *dst;
		char	   *buf;

		PARTS_N(parts)[p] = pv->spine_part_n[p];
		PARTS_BYTES(parts, pv->nparts)[p] = pv->spine_part_bytes[p];
		if (pv->spine_parts[p] == NULL)
			continue;
		snprintf(name, sizeof(name), "s.0.%d", p);
		dst = pit_file_create(&sh->fileset.fs, name, PIT_FILE_MAX_BUF);
		buf = pit_read_partition(pv->spine_parts[p], pv->spine_part_bytes[p]);
		pit_file_write(dst, buf, pv->spine_part_bytes[p]);
		pit_file_close(dst);
		pfree(buf);
		pit_file_close(pv->spine_parts[p]);
		pv->spine_parts[p] = NULL;
	}
	pv->fileset = &sh->fileset;
	pv->procno = -1;
}

/* The workers' result files, sorted into the leader's result buckets. */
static void
collect_results(PitPlan *plan, PitView *pv, PitShared *sh, int nworkers)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "pit results",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);

	for (int w = 0; w < nworkers; w++)
	{
		char		name[MAXPGPATH];
		PitFile    *f;
		MinimalTuple mt;
		uint32		h;
		int64		n = 0;

		snprintf(name, sizeof(name), "r.%d.0", w + 1);
		f = pit_file_open(&sh->fileset.fs, name, true);
		if (f == NULL)
			continue;
		while ((mt = pit_read_record(f, &h)) != NULL)
		{
			int			b = (int) (pit_result_pos(pv, mt) / plan->bucket_rows);

			if (pv->buckets[b] == NULL)
				pv->buckets[b] = pit_spill_file(pv, 'r', b);
			pit_write_record(pv, &pv->buckets[b], h, mt);
			pfree(mt);
			if ((++n & 4095) == 0)
				CHECK_FOR_INTERRUPTS();
		}
		pit_file_close(f);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/*
 * False when the parallel context got no dynamic shared memory segment
 * (the server ran out of them): the caller scans on its own.
 */
static bool
scan_parallel(PitPlan *plan, PitView *pv, Relation rel, PitScanSpec *spec, Size spec_size, int nworkers)
{
	PitIndex   *ix = pv->ix;
	int			nk = pv->view->nkeys;
	int			nc = pv->ncodec;
	Snapshot	snapshot = GetActiveSnapshot();
	ParallelContext *pcxt;
	Size		shared_size = MAXALIGN(offsetof(PitShared, cols) + sizeof(PitSharedCol) * nc) + spec_size;
	Size		pscan_size;
	Size		off = 0;
	Size		cands_size = pv->stride * Max(ix->nents, 1);
	PitShared  *sh;
	ParallelTableScanDesc pscan;
	char	   *index;
	char	   *cands;
	char	   *parts = NULL;
	TableScanDesc scan;
	int			nscanned;
	instr_time	t0;

	INSTR_TIME_SET_CURRENT(t0);
	EnterParallelMode();
	pcxt = CreateParallelContext("pushsource", "pit_parallel_main", nworkers);
	pscan_size = table_parallelscan_estimate(rel, snapshot);

	/* the index chunk: groups, their keys, directory, times, ttl bounds */
	sh = palloc0(shared_size);
	sh->off_groups = off;
	off += MAXALIGN(sizeof(SpineGroup) * ix->ngroups);
	sh->off_gkeys = off;
	off += nk > 1 ? MAXALIGN(sizeof(Datum) * nk * ix->ngroups) : 0;
	sh->off_dir = off;
	off += MAXALIGN(sizeof(DirEnt) * ((Size) ix->dirmask + 1));
	sh->off_times = off;
	off += MAXALIGN(sizeof(TimestampTz) * ix->nents);
	sh->off_oldest = off;
	off += ix->oldest ? MAXALIGN(sizeof(TimestampTz) * ix->nents) : 0;
	sh->index_size = Max(off, 1);
	sh->cands_size = cands_size;
	sh->spec_size = spec_size;

	shm_toc_estimate_chunk(&pcxt->estimator, shared_size);
	shm_toc_estimate_chunk(&pcxt->estimator, pscan_size);
	shm_toc_estimate_chunk(&pcxt->estimator, sh->index_size);
	shm_toc_estimate_chunk(&pcxt->estimator, cands_size * nworkers);
	if (pv->nparts > 1)
		shm_toc_estimate_chunk(&pcxt->estimator, PARTS_SIZE(pv->nparts));
	shm_toc_estimate_keys(&pcxt->estimator, 5);
	InitializeParallelDSM(pcxt);
	if (pcxt->seg == NULL)
	{
		/* no segment: no workers, and a file set would outlive the call */
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return false;
	}

	/* the header: what a worker needs to hash, compare and decode */
	{
		PitShared  *dst = shm_toc_allocate(pcxt->toc, shared_size);

		memcpy(dst, sh, shared_size);
		pfree(sh);
		sh = dst;
	}
	sh->relid = RelationGetRelid(rel);
	namestrcpy(&sh->viewname, pv->view->name);
	sh->nkeys = nk;
	sh->nfeat = pv->nfeat;
	sh->has_ttl = pv->view->has_ttl;
	sh->ttl = pv->view->ttl;
	sh->ttl_fixed = pv->ttl_fixed;
	sh->ttl_usec = pv->ttl_usec;
	sh->has_start_time = pv->view->has_start_time;
	sh->start_time = pv->view->start_time;
	sh->stride = pv->stride;
	sh->nents = ix->nents;
	sh->ngroups = ix->ngroups;
	sh->dirmask = ix->dirmask;
	sh->nparts = pv->nparts;
	sh->p0_slots = pv->p0_slots;
	sh->phase = 1;
	sh->bucket_rows = plan->bucket_rows;
	sh->nbuckets = plan->nbuckets;
	for (int i = 0; i < nc; i++)
	{
		sh->cols[i].len = pv->codec_len[i];
		sh->cols[i].byval = pv->codec_byval[i];
		if (i >= nk + 2)
		{
			sh->cols[i].typid = pv->feat_types[i - nk - 2];
			sh->cols[i].typmod = pv->feat_typmods[i - nk - 2];
		}
		if (i < nk)
		{
			sh->cols[i].hashproc = pv->hashfn[i].fn_oid;
			sh->cols[i].coll = pv->hashcoll[i];
			sh->cols[i].ltop = pv->key_ltop[i];
			sh->cols[i].image = pv->key_image[i];
		}
	}
	memcpy(PIT_SHARED_SPEC(sh, nc), spec, spec_size);
	shm_toc_insert(pcxt->toc, PIT_KEY_SHARED, sh);

	pscan = shm_toc_allocate(pcxt->toc, pscan_size);
	table_parallelscan_initialize(rel, pscan, snapshot);
	shm_toc_insert(pcxt->toc, PIT_KEY_SCAN, pscan);

	index = shm_toc_allocate(pcxt->toc, sh->index_size);
	memcpy(index + sh->off_groups, ix->groups, sizeof(SpineGroup) * ix->ngroups);
	if (nk > 1)
		memcpy(index + sh->off_gkeys, ix->gkeys, sizeof(Datum) * nk * ix->ngroups);
	memcpy(index + sh->off_dir, ix->dir, sizeof(DirEnt) * ((Size) ix->dirmask + 1));
	memcpy(index + sh->off_times, ix->times, sizeof(TimestampTz) * ix->nents);
	if (ix->oldest)
		memcpy(index + sh->off_oldest, ix->oldest, sizeof(TimestampTz) * ix->nents);
	shm_toc_insert(pcxt->toc, PIT_KEY_INDEX, index);

	cands = shm_toc_allocate(pcxt->toc, Max(cands_size * nworkers, 1));
	shm_toc_insert(pcxt->toc, PIT_KEY_CANDS, cands);

	if (pv->nparts > 1)
	{
		parts = shm_toc_allocate(pcxt->toc, PARTS_SIZE(pv->nparts));
		shm_toc_insert(pcxt->toc, PIT_KEY_PARTS, parts);
		SharedFileSetInit(&sh->fileset, pcxt->seg);
		share_partitions(pv, sh, parts);
	}
	pit_phase(&t0, "parallel scan set up", pv->nparts);

	LaunchParallelWorkers(pcxt);
	ereport(DEBUG1,
			(errmsg_internal("pushsource: point-in-time scan of \"%s\" with %d of %d parallel workers, spine partitions: %d",
							 RelationGetRelationName(rel), pcxt->nworkers_launched, nworkers,
							 pv->nparts - Max(1, pv->p0_slots) + 1)));

	/* the leader scans too, into its own candidates */
	scan = table_beginscan_parallel(rel, pscan);
	scan_loop(pv, rel, scan, spec);
	pit_probe_batch(pv, ix);
	table_endscan(scan);
	close_spill_files(pv);
	pit_phase(&t0, "leader's share of the scan", 0);
	WaitForParallelWorkersToFinish(pcxt);
	nscanned = pcxt->nworkers_launched;
	pit_phase(&t0, "workers' shares of the scan", nscanned);

	/* each record's newest candidate (by value: a plain copy) */
	for (int w = 0; w < nscanned; w++)
	{
		char	   *wc = cands + cands_size * w;

		for (int64 i = 0; i < ix->nents; i++)
		{
			Cand	   *c = (Cand *) (wc + i * pv->stride);
			Cand	   *mine = (Cand *) (ix->cands + i * pv->stride);

			if (CAND_HAS(c, pv->nfeat) &&
				(!CAND_HAS(mine, pv->nfeat) || c->ts > mine->ts ||
				 (c->ts == mine->ts && c->ord > mine->ord)))
				memcpy(mine, c, pv->stride);
		}
		CHECK_FOR_INTERRUPTS();
	}

	/*
	 * A partitioned spine: partition 0 is finished and its memory freed,
	 * then the leader and the workers join partitions 1..
	 */
	if (pv->nparts > 1)
	{
		pit_finish_index(plan, pv, ix);
		MemoryContextDelete(ix->cxt);
		pv->ix = NULL;
		sh->phase = 2;
		sh->nprocs_scan = nscanned + 1;
		pg_atomic_init_u32(&sh->next_part, Max(1, pv->p0_slots));
		ReinitializeParallelDSM(pcxt);
		LaunchParallelWorkers(pcxt);
		ereport(DEBUG1,
				(errmsg_internal("pushsource: %d spine partitions of \"%s\" joined with %d parallel workers",
								 pv->nparts - Max(1, pv->p0_slots), pv->view->name, pcxt->nworkers_launched)));
		join_shared_partitions(plan, pv, sh, parts);
		pit_phase(&t0, "leader's partitions joined", 0);
		WaitForParallelWorkersToFinish(pcxt);
		pit_phase(&t0, "workers' partitions joined", pcxt->nworkers_launched);
		pv->fileset = NULL;		/* the leader's result buckets are its own */
		collect_results(plan, pv, sh, pcxt->nworkers_launched);
		pit_phase(&t0, "workers' results collected", 0);
		pv->parts_done = true;
	}
	DestroyParallelContext(pcxt);
	ExitParallelMode();
	return true;
}

/* A parallel worker: its share of the scan, or of the partitions. */
PGDLLEXPORT void pit_parallel_main(dsm_segment *seg, shm_toc *toc);

void
pit_parallel_main(dsm_segment *seg, shm_toc *toc)
{
	PitShared  *sh = shm_toc_lookup(toc, PIT_KEY_SHARED, false);
	ParallelTableScanDesc pscan = shm_toc_lookup(toc, PIT_KEY_SCAN, false);
	char	   *index = shm_toc_lookup(toc, PIT_KEY_INDEX, false);
	char	   *cands = shm_toc_lookup(toc, PIT_KEY_CANDS, false);
	char	   *parts = sh->nparts > 1 ? shm_toc_lookup(toc, PIT_KEY_PARTS, false) : NULL;
	int			nk = sh->nkeys;
	int			nc = nk + 2 + sh->nfeat;
	PitView    *pv = palloc0(sizeof(PitView));
	PsView	   *v = palloc0(sizeof(PsView));
	PitIndex   *ix = palloc0(sizeof(PitIndex));
	Relation	rel;
	TableScanDesc scan;

	v->name = pstrdup(NameStr(sh->viewname));
	v->nkeys = nk;
	v->has_ttl = sh->has_ttl;
	v->ttl = sh->ttl;
	v->has_start_time = sh->has_start_time;
	v->start_time = sh->start_time;
	pv->view = v;
	pv->nfeat = sh->nfeat;
	pv->ncodec = nc;
	pv->nparts = sh->nparts;
	pv->p0_slots = sh->p0_slots;
	pv->stride = sh->stride;
	pv->ttl_fixed = sh->ttl_fixed;
	pv->ttl_usec = sh->ttl_usec;
	pv->filecxt = CurrentMemoryContext;
	pv->codec_len = palloc(sizeof(int16) * nc);
	pv->codec_byval = palloc(sizeof(bool) * nc);
	pv->hashfn = palloc0(sizeof(FmgrInfo) * Max(nk, 1));
	pv->hashcoll = palloc0(sizeof(Oid) * Max(nk, 1));
	pv->key_image = palloc0(sizeof(bool) * Max(nk, 1));
	pv->ssup = palloc0(sizeof(SortSupportData) * Max(nk, 1));
	for (int i = 0; i < nc; i++)
	{
		pv->codec_len[i] = sh->cols[i].len;
		pv->codec_byval[i] = sh->cols[i].byval;
		if (i < nk)
		{
			fmgr_info(sh->cols[i].hashproc, &pv->hashfn[i]);
			pv->hashcoll[i] = sh->cols[i].coll;
			pv->key_image[i] = sh->cols[i].image;
			pv->ssup[i].ssup_cxt = CurrentMemoryContext;
			pv->ssup[i].ssup_collation = sh->cols[i].coll;
			pv->ssup[i].ssup_nulls_first = false;
			PrepareSortSupportFromOrderingOp(sh->cols[i].ltop, &pv->ssup[i]);
		}
	}
	init_batch(pv);
	initStringInfo(&pv->enc);
	initStringInfo(&pv->rbuf);
	pit_spill_format(pv);
	if (parts != NULL)
	{
		SharedFileSetAttach(&sh->fileset, seg);
		pv->fileset = &sh->fileset;
		pv->procno = ParallelWorkerNumber;
		pv->seen = PARTS_SEEN(parts);
		pv->feat_parts = palloc0(sizeof(PitFile *) * pv->nparts);
		pv->part_buf = pit_file_buffer(pit_memory_budget() / 8.0, pv->nparts);
	}

	if (sh->phase == 2)
	{
		/* partitions 1..: their spine records indexed, the spilled rows probed */
		PitPlan    *plan = palloc0(sizeof(PitPlan));

		plan->bucket_rows = sh->bucket_rows;
		plan->nbuckets = sh->nbuckets;
		pv->nscodec = nk + 2;
		pv->scodec_len = palloc(sizeof(int16) * pv->nscodec);
		pv->scodec_byval = palloc(sizeof(bool) * pv->nscodec);
		memcpy(pv->scodec_len, pv->codec_len, sizeof(int16) * pv->nscodec);
		memcpy(pv->scodec_byval, pv->codec_byval, sizeof(bool) * pv->nscodec);
		pv->result_desc = CreateTemplateTupleDesc(pv->nfeat + 1);
		TupleDescInitEntry(pv->result_desc, 1, "pos", INT8OID, -1, 0);
		for (int f = 0; f < pv->nfeat; f++)
			TupleDescInitEntry(pv->result_desc, f + 2, NULL, sh->cols[nk + 2 + f].typid,
							   sh->cols[nk + 2 + f].typmod, 0);
		pv->rvals = palloc(sizeof(Datum) * (pv->nfeat + 1));
		pv->rnulls = palloc(sizeof(bool) * (pv->nfeat + 1));
		/*
		 * One result file, whatever the bucket (a file per bucket would hold
		 * a buffer and a descriptor per bucket): the leader sorts them out.
		 */
		pv->buckets = palloc(sizeof(PitFile *) * Max(plan->nbuckets, 1));
		pv->bucket_buf = PIT_FILE_MAX_BUF;
		pv->buckets[0] = pit_spill_file(pv, 'r', 0);
		for (int b = 1; b < plan->nbuckets; b++)
			pv->buckets[b] = pv->buckets[0];
		join_shared_partitions(plan, pv, sh, parts);
		pit_file_close(pv->buckets[0]);
		return;
	}

	ix->groups = (SpineGroup *) (index + sh->off_groups);
	ix->gkeys = nk > 1 ? (Datum *) (index + sh->off_gkeys) : NULL;
	ix->dir = (DirEnt *) (index + sh->off_dir);
	ix->dirmask = sh->dirmask;
	ix->times = (TimestampTz *) (index + sh->off_times);
	ix->oldest = sh->has_ttl && !pv->ttl_fixed ? (TimestampTz *) (index + sh->off_oldest) : NULL;
	ix->nents = sh->nents;
	ix->ngroups = sh->ngroups;
	ix->cands = cands + sh->cands_size * ParallelWorkerNumber;
	memset(ix->cands, 0, sh->cands_size);
	pv->ix = ix;

	rel = table_open(sh->relid, AccessShareLock);
	scan = table_beginscan_parallel(rel, pscan);
	scan_loop(pv, rel, scan, PIT_SHARED_SPEC(sh, nc));
	pit_probe_batch(pv, ix);
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	close_spill_files(pv);
}

/*
 * The feature rows by a direct heap scan: no planner, executor or
 * projection per row, no buffer pin per row, in parallel where it pays.
 * The SELECT privilege is checked as the executor would; a table with row
 * security that applies, or anything but heap tables (a plain one, or the
 * time partitions of a partitioned one), returns false and the SQL scan is
 * used.
 */
static bool
scan_features_direct(PitPlan *plan, PitView *pv, TimestampTz max_t, bool bounded,
					 TimestampTz lower)
{
	PsView	   *v = pv->view;
	PsSource   *src = v->source;
	Oid			relid = pit_history_relid(plan, v);
	int			nk = v->nkeys;
	int			ncols = pv->ncodec;
	Size		spec_size = offsetof(PitScanSpec, atts) + sizeof(AttrNumber) * ncols;
	PitScanSpec *spec = palloc0(spec_size);
	Oid		   *leaves;
	int			nleaves = 0;
	int			nparts = 0;
	char		relkind = get_rel_relkind(relid);
	AclResult	acl;

	if ((relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE) ||
		check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
		return false;
	acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, get_rel_name(relid));

	/*
	 * A time-partitioned log or store: only the partitions that can hold a
	 * row the spine reaches ((lower,] max_t), each scanned as a table of its
	 * own.  Privileges and row security are the parent's, as for a query.
	 */
	if (relkind == RELKIND_PARTITIONED_TABLE)
	{
		PsPartition *parts = ps_partitions(relid, &nparts);

		leaves = palloc(sizeof(Oid) * Max(nparts, 1));
		for (int i = 0; i < nparts; i++)
		{
			if (!ps_partition_overlaps(&parts[i], bounded, lower, max_t))
				continue;
			if (!parts[i].leaf)
				return false;
			leaves[nleaves++] = parts[i].relid;
		}
		ereport(DEBUG1,
				(errmsg_internal("pushsource: feature view %s reads %d of %d partitions of %s",
								 v->name, nleaves, nparts, get_rel_name(relid))));
	}
	else
	{
		leaves = palloc(sizeof(Oid));
		leaves[nleaves++] = relid;
	}

	spec->from_source = plan->from_source;
	spec->bounded = bounded;
	spec->has_start_time = v->has_start_time;
	spec->max_t = max_t;
	spec->lower = lower;
	spec->start_time = v->start_time;

	/* every table read must be a heap with the columns: else SQL reads them all */
	for (int l = 0; l < nleaves; l++)
	{
		Relation	rel = table_open(leaves[l], AccessShareLock);
		bool		heap = rel->rd_tableam == GetHeapamTableAmRoutine();

		table_close(rel, NoLock);
		if (!heap)
			return false;
		for (int i = 0; i < ncols; i++)
		{
			const char *name = i < nk ? src->cols[v->key_cols[i]].name
				: i == nk ? src->cols[src->ts_col].name
				: i == nk + 1 ? (plan->from_source ? NULL : PS_INGEST_COL)
				: src->cols[pv->feat_cols[i - nk - 2]].name;

			if (name && get_attnum(leaves[l], name) == InvalidAttrNumber)
				return false;	/* let SQL report what is missing */
		}
	}

	for (int l = 0; l < nleaves; l++)
	{
		Relation	rel;
		TableScanDesc scan;
		int			nworkers;

		/* attribute numbers are each table's own (a partition may differ) */
		spec->maxatt = 0;
		for (int i = 0; i < ncols; i++)
		{
			const char *name = i < nk ? src->cols[v->key_cols[i]].name
				: i == nk ? src->cols[src->ts_col].name
				: i == nk + 1 ? (plan->from_source ? NULL : PS_INGEST_COL)
				: src->cols[pv->feat_cols[i - nk - 2]].name;

			spec->atts[i] = name ? get_attnum(leaves[l], name) : InvalidAttrNumber;
			spec->maxatt = Max(spec->maxatt, spec->atts[i]);
		}
		rel = table_open(leaves[l], AccessShareLock);
		/* workers fill one table's candidates: only when it is the only one */
		nworkers = nleaves == 1 ? parallel_workers_for(pv, rel) : 0;
		/* the columns read are the source's, in this very table, as it is now */
		for (int i = 0; i < ncols; i++)
		{
			const PsColumn *c = i < nk ? &src->cols[v->key_cols[i]]
				: i == nk ? &src->cols[src->ts_col]
				: i == nk + 1 ? NULL
				: &src->cols[pv->feat_cols[i - nk - 2]];

			if (c != NULL && spec->atts[i] != InvalidAttrNumber &&
				TupleDescAttr(RelationGetDescr(rel), spec->atts[i] - 1)->atttypid != c->type->typid)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("feature view \"%s\": column \"%s\" of %s is of type %s, expected %s",
								v->name, c->name, RelationGetRelationName(rel),
								format_type_be(TupleDescAttr(RelationGetDescr(rel), spec->atts[i] - 1)->atttypid),
								format_type_be(c->type->typid)),
						 errdetail("The table read was changed while the join ran.")));
		}
		if (nworkers == 0 || !scan_parallel(plan, pv, rel, spec, spec_size, nworkers))
		{
			scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
			scan_loop(pv, rel, scan, spec);
			table_endscan(scan);
		}
		table_close(rel, NoLock);
	}
	return true;
}

/*
 * Run a feature query ($1, $2, $3: timestamptz) into a receiver, in a plain
 * scan: JIT compilation would cost more than it saves.
 */
void
pit_run_feature_query(PitView *pv, const char *sql, TimestampTz p1, TimestampTz p2,
				  TimestampTz p3, DestReceiver *dest)
{
	int			spi_nest;
	MemoryContext outer = CurrentMemoryContext;
	ParamListInfo params = makeParamList(3);
	Oid			argtypes[3] = {TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	SPIExecuteOptions opts;
	SPIPlanPtr	splan;
	int			ret;
	int			save_nestlevel;

	params->numParams = 3;
	for (int i = 0; i < 3; i++)
	{
		params->params[i].ptype = TIMESTAMPTZOID;
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].isnull = false;
	}
	params->params[0].value = TimestampTzGetDatum(p1);
	params->params[1].value = TimestampTzGetDatum(p2);
	params->params[2].value = TimestampTzGetDatum(p3);

	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	spi_nest = ps_spi_connect();
	splan = SPI_prepare(sql, 3, argtypes);
	if (splan == NULL)
		elog(ERROR, "pushsource: could not prepare the feature scan of \"%s\": %s",
			 pv->view->name, SPI_result_code_string(SPI_result));
	memset(&opts, 0, sizeof(opts));
	opts.params = params;
	opts.read_only = true;
	opts.dest = dest;
	ret = SPI_execute_plan_extended(splan, &opts);
	if (ret != SPI_OK_SELECT && ret != SPI_OK_UTILITY)
		elog(ERROR, "pushsource: the feature scan of \"%s\" failed", pv->view->name);
	ps_spi_finish(spi_nest);
	AtEOXact_GUC(true, save_nestlevel);
	MemoryContextSwitchTo(outer);
}

/* Scan the feature rows of the time range the spine can reach. */
void
pit_scan_features(PitPlan *plan, PitView *pv, TimestampTz min_t, TimestampTz max_t)
{
	PsView	   *v = pv->view;
	FeatureReceiver r;
	bool		bounded = v->has_ttl;
	TimestampTz lower = bounded ?
		DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval, TimestampTzGetDatum(min_t),
												IntervalPGetDatum(&v->ttl))) : min_t;

	if (scan_features_direct(plan, pv, max_t, bounded, lower))
		return;

	memset(&r, 0, sizeof(r));
	r.pub.receiveSlot = feature_receive;
	r.pub.rStartup = pit_feature_receiver_startup;
	r.pub.rShutdown = pit_receiver_noop;
	r.pub.rDestroy = pit_receiver_noop;
	r.pub.mydest = DestNone;
	r.pv = pv;
	pit_run_feature_query(pv, pit_feature_query(pv, plan, bounded, pv->nfeat, pv->feat_cols),
					  max_t, lower, v->start_time, (DestReceiver *) &r);
}

