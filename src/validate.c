/*
 * validate.c
 *		The one validator of pushed records.
 *
 * Two entry points share the same rules and the same error sentences:
 *
 *	ps_record_from_json: a JSON record (fs_push, fs_ingest) becomes the
 *		values of one source-table row.  JSON types are strict: an Int64
 *		takes a JSON integer or a string of one, a Timestamp an RFC 3339 /
 *		ISO 8601 string where no zone means UTC whatever the session
 *		TimeZone, unknown fields are errors.
 *	ps_check_row: a row that reached the source table by INSERT or COPY
 *		(PostgreSQL already typed it) gets the checks types cannot express:
 *		required fields present, Struct/Map shapes respected.
 *
 * Errors are returned, not thrown, so that on_error => 'skip' and
 * fs_ingest's recordErrors can collect them without a subtransaction per
 * record.  Every message names the source, the record index, the field, what
 * was expected and what came.
 */
#include "pushsource.h"

#include "miscadmin.h"

#include <math.h>

#include "access/detoast.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/float.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

/* ---------------------------------------------------------------------
 * Rendering values for messages
 * --------------------------------------------------------------------- */

/* JSON text of a value, cut at maxlen bytes, for "got ..." in messages. */
char *
ps_json_text(JsonbValue *v, int maxlen)
{
	StringInfoData buf;

	initStringInfo(&buf);
	switch (v->type)
	{
		case jbvNull:
			appendStringInfoString(&buf, "null");
			break;
		case jbvBool:
			appendStringInfoString(&buf, v->val.boolean ? "true" : "false");
			break;
		case jbvNumeric:
			appendStringInfoString(&buf, DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric))));
			break;
		case jbvString:
			{
				char	   *s = pnstrdup(v->val.string.val, v->val.string.len);

				escape_json(&buf, s);
				break;
			}
		case jbvBinary:
			JsonbToCString(&buf, v->val.binary.data, v->val.binary.len);
			break;
		default:
			appendStringInfoString(&buf, "?");
			break;
	}
	if (buf.len > maxlen)
	{
		int			cut = pg_mbcliplen(buf.data, buf.len, maxlen);

		buf.data[cut] = '\0';
		buf.len = cut;
		appendStringInfoString(&buf, "...");
	}
	return buf.data;
}

/* "2024-01-02T03:04:05.123456Z": timestamps in messages and metadata. */
char *
ps_format_timestamp_utc(TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(ts))
		return pstrdup(TIMESTAMP_IS_NOBEGIN(ts) ? "-infinity" : "infinity");
	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		return pstrdup("?");

	/*
	 * Years before 1 as PostgreSQL writes them ("4713-01-01 ... BC"), which
	 * its input reads back; ISO's year -4712 it does not.
	 */
	if (fsec != 0)
		return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ%s",
						tm.tm_year > 0 ? tm.tm_year : 1 - tm.tm_year,
						tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min,
						tm.tm_sec, (int) fsec, tm.tm_year > 0 ? "" : " BC");
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02dZ%s",
					tm.tm_year > 0 ? tm.tm_year : 1 - tm.tm_year, tm.tm_mon,
					tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
					tm.tm_year > 0 ? "" : " BC");
}

/* ---------------------------------------------------------------------
 * Scalar parsers that never throw
 * --------------------------------------------------------------------- */

/* Strict integer text: optional '-', digits only.  0 ok, else SQLSTATE. */
static int
parse_int64(const char *s, int len, int64 *out)
{
	int			i = 0;
	bool		neg = false;
	int64		acc = 0;

	if (len > 0 && s[0] == '-')
	{
		neg = true;
		i = 1;
	}
	if (i >= len)
		return ERRCODE_INVALID_TEXT_REPRESENTATION;
	for (; i < len; i++)
	{
		int			d;

		if (s[i] < '0' || s[i] > '9')
			return ERRCODE_INVALID_TEXT_REPRESENTATION;
		d = s[i] - '0';
		/* accumulate negatively so that INT64_MIN fits */
		if (pg_mul_s64_overflow(acc, 10, &acc) || pg_sub_s64_overflow(acc, d, &acc))
			return ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
	}
	if (!neg)
	{
		if (acc == PG_INT64_MIN)
			return ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
		acc = -acc;
	}
	*out = acc;
	return 0;
}

/* An integral JSON number, e.g. 12, 1e3 or 12.0 (but not 12.5). */
static int
numeric_to_int64(Numeric num, int64 *out)
{
	char	   *s;
	char	   *dot;

	if (numeric_is_nan(num))
		return ERRCODE_INVALID_TEXT_REPRESENTATION;
	s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	dot = strchr(s, '.');
	if (dot != NULL)
	{
		for (char *p = dot + 1; *p; p++)
			if (*p != '0')
				return ERRCODE_INVALID_TEXT_REPRESENTATION;
		*dot = '\0';
	}
	return parse_int64(s, strlen(s), out);
}

static int
days_in_month(int year, int month)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return 29;
	return mdays[month - 1];
}

static bool
digits(const char *s, int n, int *out)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/*
 * RFC 3339 / ISO 8601: YYYY-MM-DD[(T|t| )HH:MM[:SS[.fraction]]][Z|+HH:MM|-HH:MM|+HHMM|+HH].
 * A value without a zone is read as UTC; *had_zone says which it was.  The
 * result is microseconds since the PostgreSQL epoch, in UTC.
 */
static bool
parse_timestamp(const char *s, int len, bool date_only, Timestamp *out,
				bool *had_zone)
{
	int			year,
				month,
				day,
				hour = 0,
				minute = 0,
				second = 0;
	int64		usec = 0;
	int			offset = 0;		/* seconds east of UTC */
	int			i = 10;
	Timestamp	result;

	*had_zone = false;
	if (len < 10 || !digits(s, 4, &year) || s[4] != '-' ||
		!digits(s + 5, 2, &month) || s[7] != '-' || !digits(s + 8, 2, &day))
		return false;
	if (year < 1 || month < 1 || month > 12 || day < 1 ||
		day > days_in_month(year, month))
		return false;
	if (i < len)
	{
		if (date_only)
			return false;
		if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
			return false;
		i++;
		if (len - i < 5 || !digits(s + i, 2, &hour) || s[i + 2] != ':' ||
			!digits(s + i + 3, 2, &minute))
			return false;
		i += 5;
		if (i < len && s[i] == ':')
		{
			if (len - i < 3 || !digits(s + i + 1, 2, &second))
				return false;
			i += 3;
			if (i < len && (s[i] == '.' || s[i] == ','))
			{
				int			nd = 0;
				int64		scale = 100000;

				i++;
				while (i < len && s[i] >= '0' && s[i] <= '9')
				{
					if (nd < 6)
						usec += (s[i] - '0') * scale;
					else if (nd == 6 && s[i] >= '5')
						usec += 1;	/* round half up to microseconds */
					scale /= 10;
					nd++;
					i++;
				}
				if (nd == 0 || nd > 9)
					return false;
			}
		}
		if (hour > 23 || minute > 59 || second > 59)
			return false;
		if (i < len)
		{
			int			oh = 0,
						om = 0;
			int			sign;

			if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len)
				*had_zone = true;
			else if (s[i] == '+' || s[i] == '-')
			{
				sign = s[i] == '+' ? 1 : -1;
				i++;
				if (len - i == 2 && digits(s + i, 2, &oh))
					 /* +HH */ ;
				else if (len - i == 4 && digits(s + i, 2, &oh) && digits(s + i + 2, 2, &om))
					 /* +HHMM */ ;
				else if (len - i == 5 && digits(s + i, 2, &oh) && s[i + 2] == ':' &&
						 digits(s + i + 3, 2, &om))
					 /* +HH:MM */ ;
				else
					return false;
				if (oh > 23 || om > 59)
					return false;
				offset = sign * (oh * 3600 + om * 60);
				*had_zone = true;
			}
			else
				return false;
		}
	}
	result = (Timestamp) (date2j(year, month, day) - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY;
	result += ((int64) (hour * 60 + minute) * 60 + second - offset) * USECS_PER_SEC + usec;
	if (!IS_VALID_TIMESTAMP(result))
		return false;
	*out = result;
	return true;
}

/* A Timestamp as pushed JSON has it (a zone-less one is UTC), or false. */
bool
ps_parse_rfc3339(const char *s, TimestampTz *out)
{
	bool		had_zone;

	return parse_timestamp(s, strlen(s), false, out, &had_zone);
}

/*
 * Run a type input function without letting its error escape: used only
 * for types pushsource has no strict parser of its own (PS_OTHER, numeric).
 * Returns 0 or the error's SQLSTATE, with its message in *msg.
 */
static int
input_softly(Oid infunc, const char *str, Oid ioparam, int32 typmod,
			 Datum *out, char **msg)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile int code = 0;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		*out = OidInputFunctionCall(infunc, (char *) str, ioparam, typmod);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		/* a bad value is the record's fault; a cancel or out-of-memory is not */
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION &&
			ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION)
			ReThrowError(edata);
		code = edata->sqlerrcode;
		*msg = edata->message;
	}
	PG_END_TRY();
	return code;
}

/* ---------------------------------------------------------------------
 * One JSON value against one type
 * --------------------------------------------------------------------- */

static void
describe_expected(PsTypeSpec *t, StringInfo expected)
{
	resetStringInfo(expected);
	switch (t->kind)
	{
		case PS_STRING:
			appendStringInfo(expected, "%s (a JSON string)", t->display);
			break;
		case PS_INT2:
		case PS_INT4:
		case PS_INT8:
			appendStringInfo(expected, "%s (a JSON integer or a string of one)", t->display);
			break;
		case PS_FLOAT4:
		case PS_FLOAT8:
			appendStringInfo(expected, "%s (a JSON number, \"NaN\", \"Infinity\" or \"-Infinity\")", t->display);
			break;
		case PS_NUMERIC:
			appendStringInfo(expected, "%s (a JSON number or a string of one)", t->display);
			break;
		case PS_BOOL:
			appendStringInfo(expected, "%s (true or false)", t->display);
			break;
		case PS_TIMESTAMPTZ:
		case PS_TIMESTAMP:
			appendStringInfo(expected, "%s (an RFC 3339 / ISO 8601 string)", t->display);
			break;
		case PS_DATE:
			appendStringInfo(expected, "%s (a \"YYYY-MM-DD\" string)", t->display);
			break;
		case PS_JSON:
			appendStringInfo(expected, "%s (any JSON value)", t->display);
			break;
		case PS_ARRAY:
			appendStringInfo(expected, "%s (a JSON array)", t->display);
			break;
		case PS_STRUCT:
		case PS_MAP:
			appendStringInfo(expected, "%s (a JSON object)", t->display);
			break;
		case PS_OTHER:
			appendStringInfo(expected, "%s (a JSON string)", t->display);
			break;
	}
}

static int
type_error(PsTypeSpec *t, JsonbValue *v, int code, StringInfo expected,
		   StringInfo got, const char *why)
{
	describe_expected(t, expected);
	resetStringInfo(got);
	appendStringInfoString(got, ps_json_text(v, 80));
	if (why)
		appendStringInfo(got, " (%s)", why);
	return code;
}

static bool
is_container(JsonbValue *v, bool object)
{
	return v->type == jbvBinary &&
		(object ? JsonContainerIsObject(v->val.binary.data)
		 : JsonContainerIsArray(v->val.binary.data));
}

static int	value_from_json(PsTypeSpec *t, JsonbValue *v, Datum *value,
							bool *isnull, StringInfo path, StringInfo expected,
							StringInfo got, bool check_only);

/* Struct and Map values: objects whose members are checked recursively. */
static int
check_object(PsTypeSpec *t, JsonbValue *v, StringInfo path,
			 StringInfo expected, StringInfo got)
{
	JsonbIterator *it;
	JsonbValue	key;
	JsonbValue	val;
	JsonbIteratorToken tok;
	int			pathlen = path->len;

	if (!is_container(v, true))
		return type_error(t, v, ERRCODE_DATATYPE_MISMATCH, expected, got, NULL);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		PsTypeSpec *ft = NULL;
		Datum		d;
		bool		n;
		int			code;

		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &val, true);
		Assert(tok == WJB_VALUE);
		if (t->kind == PS_MAP)
			ft = t->elem;
		else
		{
			for (int i = 0; i < t->nfields; i++)
				if ((int) strlen(t->fieldnames[i]) == key.val.string.len &&
					strncmp(t->fieldnames[i], key.val.string.val, key.val.string.len) == 0)
					ft = t->fields[i];
		}
		appendStringInfo(path, ".%.*s", key.val.string.len, key.val.string.val);
		if (ft == NULL)
		{
			resetStringInfo(expected);
			appendStringInfoString(expected, "one of the fields of ");
			appendStringInfoString(expected, t->display);
			resetStringInfo(got);
			appendStringInfoString(got, "an unknown field");
			return ERRCODE_UNDEFINED_COLUMN;
		}
		if (val.type != jbvNull)
		{
			code = value_from_json(ft, &val, &d, &n, path, expected, got, true);
			if (code != 0)
				return code;
		}
		path->len = pathlen;
		path->data[pathlen] = '\0';
	}
	return 0;
}

/*
 * A validated value inside a jsonb-backed type (Struct, Map, nested Array),
 * rebuilt in canonical form: integers as JSON numbers even when they came
 * as strings, timestamps as UTC "...Z" strings.  Serving then returns the
 * declared types, as it does for plain columns.
 */
static JsonbValue *
push_canonical(PsTypeSpec *t, JsonbValue *v, JsonbParseState **st,
			   JsonbIteratorToken tok)
{
	JsonbValue	out;
	int64		i64;
	Timestamp	ts;
	bool		had_zone;

	check_stack_depth();

	if (v->type == jbvNull)
		return pushJsonbValue(st, tok, v);
	switch (t->kind)
	{
		case PS_INT2:
		case PS_INT4:
		case PS_INT8:
			if ((v->type == jbvNumeric ? numeric_to_int64(v->val.numeric, &i64)
				 : parse_int64(v->val.string.val, v->val.string.len, &i64)) != 0)
				elog(ERROR, "pushsource: unvalidated integer in canonical form");
			out.type = jbvNumeric;
			out.val.numeric = int64_to_numeric(i64);
			return pushJsonbValue(st, tok, &out);
		case PS_TIMESTAMPTZ:
		case PS_TIMESTAMP:
			if (!parse_timestamp(v->val.string.val, v->val.string.len, false, &ts, &had_zone))
				elog(ERROR, "pushsource: unvalidated timestamp in canonical form");
			out.type = jbvString;
			out.val.string.val = ps_format_timestamp_utc(ts);
			out.val.string.len = strlen(out.val.string.val);
			return pushJsonbValue(st, tok, &out);
		case PS_STRUCT:
		case PS_MAP:
			{
				JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
				JsonbValue	key;
				JsonbValue	val;
				JsonbIteratorToken r;

				pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
				while ((r = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
				{
					PsTypeSpec *ft = t->elem;

					if (r != WJB_KEY)
						continue;
					JsonbIteratorNext(&it, &val, true);
					if (t->kind == PS_STRUCT)
						for (int i = 0; i < t->nfields; i++)
							if ((int) strlen(t->fieldnames[i]) == key.val.string.len &&
								strncmp(t->fieldnames[i], key.val.string.val, key.val.string.len) == 0)
								ft = t->fields[i];
					pushJsonbValue(st, WJB_KEY, &key);
					push_canonical(ft, &val, st, WJB_VALUE);
				}
				return pushJsonbValue(st, WJB_END_OBJECT, NULL);
			}
		case PS_ARRAY:
			{
				JsonbContainer *c = v->val.binary.data;
				int			n = JsonContainerSize(c);

				pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
				for (int i = 0; i < n; i++)
					push_canonical(t->elem, getIthJsonbValueFromContainer(c, i), st, WJB_ELEM);
				return pushJsonbValue(st, WJB_END_ARRAY, NULL);
			}
		default:
			return pushJsonbValue(st, tok, v);
	}
}

static Datum
canonical_jsonb(PsTypeSpec *t, JsonbValue *v)
{
	JsonbParseState *st = NULL;

	return JsonbPGetDatum(JsonbValueToJsonb(push_canonical(t, v, &st, WJB_VALUE)));
}

/*
 * Convert (or, with check_only, just check) one non-null JSON value.
 * Returns 0 or an SQLSTATE with expected/got filled in; path is extended
 * with the position of a nested offender.
 */
static int
value_from_json(PsTypeSpec *t, JsonbValue *v, Datum *value, bool *isnull,
				StringInfo path, StringInfo expected, StringInfo got,
				bool check_only)
{
	int64		i64;
	int			code;

	check_stack_depth();
	*isnull = false;
	switch (t->kind)
	{
		case PS_STRING:
			if (v->type != jbvString)
				return type_error(t, v, ERRCODE_DATATYPE_MISMATCH, expected, got, NULL);
			if (t->typmod >= (int32) VARHDRSZ &&
				pg_mbstrlen_with_len(v->val.string.val, v->val.string.len) > t->typmod - (int32) VARHDRSZ)
				return type_error(t, v, ERRCODE_STRING_DATA_RIGHT_TRUNCATION, expected, got,
								  psprintf("longer than %d characters", t->typmod - (int32) VARHDRSZ));
			if (check_only)
				return 0;
			if (t->typid == BPCHAROID || t->typid == VARCHAROID)
				*value = OidInputFunctionCall(t->typid == BPCHAROID ? F_BPCHARIN : F_VARCHARIN,
											  pnstrdup(v->val.string.val, v->val.string.len),
											  InvalidOid, t->typmod);
			else
				*value = PointerGetDatum(cstring_to_text_with_len(v->val.string.val, v->val.string.len));
			return 0;

		case PS_INT2:
		case PS_INT4:
		case PS_INT8:
			if (v->type == jbvNumeric)
				code = numeric_to_int64(v->val.numeric, &i64);
			else if (v->type == jbvString)
				code = parse_int64(v->val.string.val, v->val.string.len, &i64);
			else
				return type_error(t, v, ERRCODE_DATATYPE_MISMATCH, expected, got, NULL);
			if (code == 0 && t->kind == PS_INT4 && (i64 < PG_INT32_MIN || i64 > PG_INT32_MAX))
				code = ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
			if (code == 0 && t->kind == PS_INT2 && (i64 < PG_INT16_MIN || i64 > PG_INT16_MAX))
				code = ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
			if (code != 0)
				return type_error(t, v, code, expected, got,
								  code == ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE ? "out of range" : NULL);
			*value = t->kind == PS_INT8 ? Int64GetDatum(i64) :
				t->kind == PS_INT4 ? Int32GetDatum((int32) i64) : Int16GetDatum((int16) i64);
			return 0;

		case PS_FLOAT4:
		case PS_FLOAT8:
			{
				double		d;

				if (v->type == jbvNumeric)
				{
					char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
					char	   *end;

					errno = 0;
					d = strtod(s, &end);
					if (*end != '\0' || numeric_is_nan(v->val.numeric))
						return type_error(t, v, ERRCODE_INVALID_TEXT_REPRESENTATION, expected, got, NULL);
					if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
						return type_error(t, v, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, expected, got, "out of range");
				}
				else if (v->type == jbvString)
				{
					const char *s = v->val.string.val;
					int			n = v->val.string.len;

					if (n == 3 && strncmp(s, "NaN", 3) == 0)
						d = get_float8_nan();
					else if ((n == 8 && strncmp(s, "Infinity", 8) == 0) ||
							 (n == 9 && strncmp(s, "+Infinity", 9) == 0))
						d = get_float8_infinity();
					else if (n == 9 && strncmp(s, "-Infinity", 9) == 0)
						d = -get_float8_infinity();
					else
						return type_error(t, v, ERRCODE_INVALID_TEXT_REPRESENTATION, expected, got, NULL);
				}
				else
					return type_error(t, v, ERRCODE_DATATYPE_MISMATCH, expected, got, NULL);
				if (t->kind == PS_FLOAT4)
				{
					float4		f = (float4) d;

					if (isinf(f) && !isinf(d))
						return type_error(t, v, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, expected, got, "out of range");
					*value = Float4GetDatum(f);
				}
				else
					*value = Float8GetDatum(d);
				return 0;
			}

		case PS_NUMERIC:
			{
				char	   *msg = NULL;
				Datum		num;

				if (v->type == jbvNumeric)
				{
					if (t->typmod < 0)
					{
						*value = NumericGetDatum(v->val.numeric);
						return 0;
					}
					code = input_softly(F_NUMERIC_IN,
										DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric))),
										InvalidOid, t->typmod, &num, &msg);
				}
				else if (v->type == jbvString)
					code = input_softly(F_NUMERIC_IN, pnstrdup(v->val.string.val, v->val.string.len),
										InvalidOid, t->typmod, &num, &msg);
				else
					return type_error(t, v, ERRCODE_DATATYPE_MISMATCH, expected, got, NULL);
				if (code != 0)
					return type_error(t, v, code, expected, got, msg);
				*value = num;
				return 0;
			}

		case PS_BOOL:
			if (v->type != jbvBool)
				return type_error(t, v, ERRCODE_DATATYPE_MISMATCH, expected, got, NULL);
			*value = BoolGetDatum(v->val.boolean);
			return 0;

		case PS_TIMESTAMPTZ:
		case PS_TIMESTAMP:
		case PS_DATE:
			{
				Timestamp	ts;
				bool		had_zone;

				if (v->type != jbvString)
					return type_error(t, v, ERRCODE_DATATYPE_MISMATCH, expected, got, NULL);
				if (!parse_timestamp(v->val.string.val, v->val.string.len,
									 t->kind == PS_DATE, &ts, &had_zone))
					return type_error(t, v, ERRCODE_INVALID_DATETIME_FORMAT, expected, got, NULL);
				if (t->kind == PS_DATE)
					*value = DateADTGetDatum((DateADT) (ts / USECS_PER_DAY));
				else
					*value = TimestampGetDatum(ts);
				return 0;
			}

		case PS_JSON:
			if (!check_only)
			{
				Jsonb	   *jb = JsonbValueToJsonb(v);

				*value = t->typid == JSONBOID ? JsonbPGetDatum(jb) :
					PointerGetDatum(cstring_to_text(JsonbToCString(NULL, &jb->root, VARSIZE(jb))));
			}
			return 0;

		case PS_STRUCT:
		case PS_MAP:
			code = check_object(t, v, path, expected, got);
			if (code == 0 && !check_only)
				*value = canonical_jsonb(t, v);
			return code;

		case PS_ARRAY:
			{
				JsonbContainer *c;
				int			n;
				Datum	   *elems;
				bool	   *enulls;
				int			pathlen = path->len;

				if (!is_container(v, false))
					return type_error(t, v, ERRCODE_DATATYPE_MISMATCH, expected, got, NULL);
				c = v->val.binary.data;
				n = JsonContainerSize(c);
				elems = palloc(sizeof(Datum) * Max(n, 1));
				enulls = palloc(sizeof(bool) * Max(n, 1));
				for (int i = 0; i < n; i++)
				{
					JsonbValue *e = getIthJsonbValueFromContainer(c, i);

					if (e->type == jbvNull)
					{
						enulls[i] = true;
						elems[i] = (Datum) 0;
						continue;
					}
					appendStringInfo(path, "[%d]", i);
					code = value_from_json(t->elem, e, &elems[i], &enulls[i], path,
										   expected, got, check_only || t->as_jsonb);
					if (code != 0)
						return code;
					path->len = pathlen;
					path->data[pathlen] = '\0';
				}
				if (check_only)
					return 0;
				if (t->as_jsonb)
				{
					*value = canonical_jsonb(t, v);
					return 0;
				}
				{
					int			dims[1] = {n};
					int			lbs[1] = {1};

					*value = n == 0 ?
						PointerGetDatum(construct_empty_array(t->elem->typid)) :
						PointerGetDatum(construct_md_array(elems, enulls, 1, dims, lbs,
														   t->elem->typid, t->elmlen,
														   t->elmbyval, t->elmalign));
				}
				return 0;
			}

		case PS_OTHER:
			{
				char	   *msg = NULL;

				if (v->type != jbvString)
					return type_error(t, v, ERRCODE_DATATYPE_MISMATCH, expected, got, NULL);
				code = input_softly(t->infunc, pnstrdup(v->val.string.val, v->val.string.len),
									t->ioparam, t->typmod, value, &msg);
				if (code != 0)
					return type_error(t, v, code, expected, got, msg);
				return 0;
			}
	}
	return 0;					/* keep compiler quiet */
}

int
ps_value_from_json(PsTypeSpec *type, JsonbValue *v, Datum *value,
				   bool *isnull, StringInfo path, StringInfo expected,
				   StringInfo got)
{
	if (v->type == jbvNull)
	{
		*isnull = true;
		*value = (Datum) 0;
		return 0;
	}
	return value_from_json(type, v, value, isnull, path, expected, got, false);
}

/* ---------------------------------------------------------------------
 * Records
 * --------------------------------------------------------------------- */

static bool
record_error(PsRecordError *err, PsSource *src, int index, const char *field,
			 int sqlstate, const char *expected, const char *got)
{
	err->sqlstate = sqlstate;
	err->field = field ? pstrdup(field) : NULL;
	if (field)
		err->problem = psprintf("field \"%s\": expected %s, got %s", field, expected, got);
	else
		err->problem = psprintf("expected %s, got %s", expected, got);
	err->message = psprintf("push source \"%s\", record %d%s%s", src->name, index,
							field ? ", " : ": ", err->problem);
	return false;
}

static bool
check_required(PsSource *src, int col, bool isnull, bool missing, int index,
			   PsRecordError *err)
{
	PsColumn   *c = &src->cols[col];

	if (!isnull || !c->required)
		return true;
	return record_error(err, src, index, c->name, ERRCODE_NOT_NULL_VIOLATION,
						psprintf("a non-null %s (%s)", c->type->display,
								 col == src->ts_col ? "the timestamp field" : "a join key"),
						missing ? "nothing (the field is missing)" : "null");
}

/*
 * The record's join key values fit the stores' key indexes: at most
 * PS_MAX_KEY_BYTES of variable-length key values together, for each view
 * (a view's stores index its own keys only).  A record over
 * it is rejected like any bad record (on_error => 'skip' skips it), never
 * left to fail the batch's store write.
 */
static bool
check_key_size(PsSource *src, Datum *values, bool *nulls, int index, PsRecordError *err)
{
	for (int vi = 0; vi < src->nviews; vi++)
	{
		PsView	   *v = src->views[vi];
		Size		total = 0;
		int			largest = -1;
		Size		largest_size = 0;

		for (int k = 0; k < v->nkeys; k++)
		{
			int			i = v->key_cols[k];
			Size		size;

			if (nulls[i] || src->cols[i].typlen != -1)
				continue;
			size = toast_raw_datum_size(values[i]) - VARHDRSZ;
			total += size;
			if (largest < 0 || size > largest_size)
			{
				largest = i;
				largest_size = size;
			}
		}
		if (total > PS_MAX_KEY_BYTES)
			return record_error(err, src, index, src->cols[largest].name, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
								psprintf("join key values of at most %d bytes together (feature view \"%s\")",
										 PS_MAX_KEY_BYTES, v->name),
								psprintf("%zu bytes", total));
	}
	return true;
}

static char *
field_list(PsSource *src)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < src->ncols; i++)
		appendStringInfo(&buf, "%s%s", i ? ", " : "", src->cols[i].name);
	return buf.data;
}

/*
 * A JSON record to the values of a source row.  values/nulls have
 * src->ncols entries, in push-schema order.
 */
bool
ps_record_from_json(PsSource *src, JsonbValue *record, int index,
					Datum *values, bool *nulls, PsRecordError *err)
{
	JsonbIterator *it;
	JsonbValue	key;
	JsonbValue	val;
	JsonbIteratorToken tok;
	bool	   *seen = palloc0(sizeof(bool) * src->ncols);
	StringInfoData path;
	StringInfoData expected;
	StringInfoData got;

	if (!is_container(record, true))
		return record_error(err, src, index, NULL, ERRCODE_INVALID_PARAMETER_VALUE,
							"a JSON object", ps_json_text(record, 80));

	for (int i = 0; i < src->ncols; i++)
	{
		nulls[i] = true;
		values[i] = (Datum) 0;
	}
	initStringInfo(&path);
	initStringInfo(&expected);
	initStringInfo(&got);

	it = JsonbIteratorInit(record->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		int			col = -1;
		int			code;

		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &val, true);
		for (int i = 0; i < src->ncols; i++)
		{
			const char *name = src->cols[i].name;

			if ((int) strlen(name) == key.val.string.len &&
				memcmp(name, key.val.string.val, key.val.string.len) == 0)
			{
				col = i;
				break;
			}
		}
		if (col < 0)
		{
			char	   *field = pnstrdup(key.val.string.val, key.val.string.len);

			return record_error(err, src, index, field, ERRCODE_UNDEFINED_COLUMN,
								psprintf("one of the schema's fields (%s)", field_list(src)),
								"an unknown field");
		}
		seen[col] = true;
		resetStringInfo(&path);
		appendStringInfoString(&path, src->cols[col].name);
		code = ps_value_from_json(src->cols[col].type, &val, &values[col], &nulls[col],
								  &path, &expected, &got);
		if (code != 0)
			return record_error(err, src, index, path.data, code, expected.data, got.data);
	}

	for (int i = 0; i < src->ncols; i++)
		if (!check_required(src, i, nulls[i], !seen[i], index, err))
			return false;
	return check_key_size(src, values, nulls, index, err);
}

/*
 * A typed row (INSERT, COPY, or a record fs_push formed): required fields
 * and the shapes of jsonb-backed Struct/Map/nested Array columns.
 */
bool
ps_check_row(PsSource *src, Datum *values, bool *nulls, int index,
			 PsRecordError *err)
{
	for (int i = 0; i < src->ncols; i++)
	{
		PsColumn   *c = &src->cols[i];

		if (!check_required(src, i, nulls[i], false, index, err))
			return false;
		if (!nulls[i] && c->type->as_jsonb)
		{
			Jsonb	   *jb = DatumGetJsonbP(values[i]);
			JsonbValue	v;
			StringInfoData path;
			StringInfoData expected;
			StringInfoData got;
			Datum		d;
			bool		n;
			int			code;

			if (JB_ROOT_IS_SCALAR(jb))
				JsonbExtractScalar(&jb->root, &v);
			else
			{
				v.type = jbvBinary;
				v.val.binary.data = &jb->root;
				v.val.binary.len = VARSIZE(jb) - VARHDRSZ;
			}
			initStringInfo(&path);
			initStringInfo(&expected);
			initStringInfo(&got);
			appendStringInfoString(&path, c->name);
			code = value_from_json(c->type, &v, &d, &n, &path, &expected, &got, true);
			if (code != 0)
				return record_error(err, src, index, path.data, code, expected.data, got.data);
		}
	}
	return check_key_size(src, values, nulls, index, err);
}

void
ps_raise_record_error(PsRecordError *err)
{
	ereport(ERROR,
			(errcode(err->sqlstate),
			 errmsg_internal("%s", err->message)));
}

/* ---------------------------------------------------------------------
 * Where refused records are kept: pushsource.rejected_records
 * --------------------------------------------------------------------- */

/*
 * Rejected records are kept here, by the push path and by the fan-out of
 * a replicated source: as the extension's owner (no other role may INSERT
 * there), recording who pushed them.
 */
void
ps_save_rejects(PsSource *src, List *rejected)
{
	int			spi_nest;
	int			n = list_length(rejected);
	int			i = 0;
	ListCell   *lc;
	Oid			argtypes[7] = {TEXTOID, INT4ARRAYOID, JSONBARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	TEXTARRAYOID, NAMEOID};
	Datum		args[7];
	Datum	   *idx;
	Datum	   *rec;
	Datum	   *field;
	Datum	   *state;
	Datum	   *msg;
	bool	   *field_null;
	int			dims[1];
	int			lbs[1] = {1};
	Oid			save_userid;
	int			save_sec;

	if (rejected == NIL)
		return;
	GetUserIdAndSecContext(&save_userid, &save_sec);
	idx = palloc(sizeof(Datum) * n);
	rec = palloc(sizeof(Datum) * n);
	field = palloc(sizeof(Datum) * n);
	state = palloc(sizeof(Datum) * n);
	msg = palloc(sizeof(Datum) * n);
	field_null = palloc(sizeof(bool) * n);
	foreach(lc, rejected)
	{
		RejectedRecord *r = lfirst(lc);

		idx[i] = Int32GetDatum(r->index);
		rec[i] = JsonbPGetDatum(r->record);
		field_null[i] = r->err.field == NULL;
		field[i] = field_null[i] ? (Datum) 0 : CStringGetTextDatum(r->err.field);
		state[i] = CStringGetTextDatum(unpack_sql_state(r->err.sqlstate));
		msg[i] = CStringGetTextDatum(r->err.message);
		i++;
	}
	dims[0] = n;
	args[0] = CStringGetTextDatum(src->name);
	args[1] = PointerGetDatum(construct_array(idx, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
	args[2] = PointerGetDatum(construct_array(rec, n, JSONBOID, -1, false, TYPALIGN_INT));
	args[3] = PointerGetDatum(construct_md_array(field, field_null, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
	args[4] = PointerGetDatum(construct_array(state, n, TEXTOID, -1, false, TYPALIGN_INT));
	args[5] = PointerGetDatum(construct_array(msg, n, TEXTOID, -1, false, TYPALIGN_INT));
	args[6] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(save_userid, false)));
	spi_nest = ps_spi_connect();
	SetUserIdAndSecContext(ps_extension_owner(),
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	/* one statement for all of them (unnest keeps their order) */
	if (SPI_execute_with_args("INSERT INTO pushsource.rejected_records"
							  " (source, record_index, record, field, sqlstate, error, rejected_by)"
							  " SELECT $1, u.i, u.r, u.f, u.s, u.e, $7"
							  " FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4),"
							  " pg_catalog.unnest($5), pg_catalog.unnest($6)) AS u(i, r, f, s, e)",
							  7, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not save the rejected records");
	SetUserIdAndSecContext(save_userid, save_sec);
	ps_spi_finish(spi_nest);
}

/*
 * One row the fan-out of a replicated source refused (a view of this
 * serving node needs what the ingest node did not check): saved as
 * fs_push(on_error => 'skip') saves a record, so that nothing is lost
 * silently while replication goes on.
 */
void
ps_save_rejected_row(PsSource *src, int index, Jsonb *record, const PsRecordError *err)
{
	RejectedRecord r;

	r.index = index;
	r.record = record;
	r.err = *err;
	r.source = src->name;
	ps_save_rejects(src, list_make1(&r));
}
