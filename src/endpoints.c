/*
 * endpoints.c
 *		The HTTP gateway's endpoints as SQL functions: Tecton's and Feast's
 *		request shapes in, their reply shapes out.
 *
 *   fs_tecton_get_features(request)        POST /api/v1/feature-service/get-features
 *   fs_tecton_get_features_batch(request)  POST .../get-features-batch
 *   fs_feast_push(request)                 POST /push
 *   fs_feast_get_online_features(request)  POST /get-online-features
 *   fs_ingest(request) (push.c)            POST /ingest
 *
 * Each one only translates: keys are read and values served by online.c's
 * reader (ps_serve_key), records are pushed by push.c (ps_push), so a
 * request over HTTP and the same call from psql give the same answer.
 *
 * fs_gateway_request(endpoint, request text, api_key) is what the gateway
 * calls: it turns the key into its role, runs the endpoint as that role,
 * and returns the HTTP status with the reply.  fs_gateway_error() turns an
 * error the request raised into the endpoint's status and error body.
 */
#include "pushsource.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

/* ---------------------------------------------------------------------
 * Reading requests
 * --------------------------------------------------------------------- */

static bool
is_object(JsonbValue *v)
{
	return v != NULL && v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

static bool
is_array(JsonbValue *v)
{
	return v != NULL && v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data);
}

static JsonbValue *
get_key(JsonbContainer *obj, const char *key)
{
	return getKeyJsonValueFromContainer(obj, key, strlen(key), NULL);
}

/* A field by its proto name or its lowerCamelCase JSON name (both accepted). */
static JsonbValue *
get_field(JsonbContainer *obj, const char *snake, const char *camel)
{
	JsonbValue *v = get_key(obj, snake);

	if (v == NULL && camel != NULL)
		v = get_key(obj, camel);
	return v;
}

static char *
string_field(JsonbContainer *obj, const char *snake, const char *camel, const char *what,
			 bool required)
{
	JsonbValue *v = get_field(obj, snake, camel);

	if (v == NULL || v->type == jbvNull)
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: \"%s\" is required", what, snake)));
		return NULL;
	}
	if (v->type != jbvString || v->val.string.len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: \"%s\" must be a non-empty string, got %s", what, snake,
						ps_json_text(v, 80))));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static bool
bool_field(JsonbContainer *obj, const char *snake, const char *camel, const char *what)
{
	JsonbValue *v = get_field(obj, snake, camel);

	if (v == NULL || v->type == jbvNull)
		return false;
	if (v->type != jbvBool)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: \"%s\" must be true or false, got %s", what, snake, ps_json_text(v, 80))));
	return v->val.boolean;
}

/*
 * Every key of obj must be one of known (a NULL-terminated list of names;
 * each snake_case name also accepts its lowerCamelCase spelling).
 */
static void
check_fields(JsonbContainer *obj, const char *const *known, const char *what)
{
	JsonbIterator *it = JsonbIteratorInit(obj);
	JsonbValue	k;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		bool		ok = false;
		StringInfoData list;

		if (tok != WJB_KEY)
			continue;
		for (int i = 0; known[i] != NULL && !ok; i++)
		{
			const char *n = known[i];
			char		camel[64];
			int			c = 0;

			ok = (int) strlen(n) == k.val.string.len &&
				memcmp(n, k.val.string.val, k.val.string.len) == 0;
			for (const char *p = n; *p != '\0' && c < (int) sizeof(camel) - 1; p++)
			{
				if (*p == '_' && p[1] != '\0')
					camel[c++] = (char) pg_toupper((unsigned char) *++p);
				else
					camel[c++] = *p;
			}
			camel[c] = '\0';
			ok = ok || ((int) strlen(camel) == k.val.string.len &&
						memcmp(camel, k.val.string.val, k.val.string.len) == 0);
		}
		if (ok)
			continue;
		initStringInfo(&list);
		for (int i = 0; known[i] != NULL; i++)
			appendStringInfo(&list, "%s\"%s\"", i > 0 ? ", " : "", known[i]);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: unknown field \"%.*s\"", what, k.val.string.len, k.val.string.val),
				 errdetail("Known fields: %s.", list.data)));
	}
}

static JsonbContainer *
request_object(Jsonb *req, const char *what, const char *shape)
{
	if (req == NULL || !JB_ROOT_IS_OBJECT(req))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: the request must be a JSON object %s", what, shape)));
	return &req->root;
}

/* ---------------------------------------------------------------------
 * Rendering values
 * --------------------------------------------------------------------- */

typedef enum Style
{
	STYLE_TECTON,				/* int64 as strings, structs as arrays */
	STYLE_FEAST					/* timestamps as Unix seconds */
} Style;

static JsonbValue
string_value(const char *s)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = strlen(s);
	return v;
}

/* Unix seconds of a timestamp-typed value (JSON text as jsonb wrote it). */
static bool
unix_seconds(JsonbValue *v, PsTypeSpec *t, int64 *out)
{
	char	   *s;
	int64		us;

	if (v->type != jbvString)
		return false;
	s = pnstrdup(v->val.string.val, v->val.string.len);
	if (t->kind == PS_DATE)
	{
		DateADT		d = DatumGetDateADT(DirectFunctionCall1(date_in, CStringGetDatum(s)));

		if (DATE_NOT_FINITE(d))
			return false;
		us = (int64) d * USECS_PER_DAY;
	}
	else
	{
		/* jsonb wrote timestamptz with its offset; a plain timestamp is UTC */
		Timestamp	ts = DatumGetTimestamp(DirectFunctionCall3(t->kind == PS_TIMESTAMPTZ ?
															   timestamptz_in : timestamp_in,
															   CStringGetDatum(s),
															   ObjectIdGetDatum(InvalidOid),
															   Int32GetDatum(-1)));

		if (TIMESTAMP_NOT_FINITE(ts))
			return false;
		us = ts;
	}
	/* floor division: seconds before 1970 round down, as Unix time does */
	us += (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
	*out = us >= 0 ? us / USECS_PER_SEC : -((-us + USECS_PER_SEC - 1) / USECS_PER_SEC);
	return true;
}

/* Push v, typed t, into st (as tok: WJB_VALUE or WJB_ELEM) in a style. */
static void
render(JsonbParseState **st, JsonbValue *v, PsTypeSpec *t, Style style, JsonbIteratorToken tok)
{
	JsonbValue	out;

	check_stack_depth();
	if (t == NULL || v->type == jbvNull)
	{
		pushJsonbValue(st, tok, v);
		return;
	}
	switch (t->kind)
	{
		case PS_INT2:
		case PS_INT4:
		case PS_INT8:
			if (style == STYLE_TECTON && v->type == jbvNumeric)
			{
				out = string_value(DatumGetCString(DirectFunctionCall1(numeric_out,
																	   NumericGetDatum(v->val.numeric))));
				pushJsonbValue(st, tok, &out);
				return;
			}
			break;
		case PS_TIMESTAMPTZ:
		case PS_TIMESTAMP:
		case PS_DATE:
			{
				int64		secs;

				if (style == STYLE_FEAST && unix_seconds(v, t, &secs))
				{
					out.type = jbvNumeric;
					out.val.numeric = int64_to_numeric(secs);
					pushJsonbValue(st, tok, &out);
					return;
				}
				break;
			}
		case PS_JSON:
			if (style == STYLE_TECTON)
			{
				/* served as a string of JSON text (dataType string) */
				Jsonb	   *j = JsonbValueToJsonb(v);

				out = string_value(JsonbToCString(NULL, &j->root, VARSIZE(j)));
				pushJsonbValue(st, tok, &out);
				return;
			}
			break;
		case PS_ARRAY:
			if (is_array(v))
			{
				int			n = JsonContainerSize(v->val.binary.data);

				pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
				for (int i = 0; i < n; i++)
					render(st, getIthJsonbValueFromContainer(v->val.binary.data, i), t->elem,
						   style, WJB_ELEM);
				pushJsonbValue(st, WJB_END_ARRAY, NULL);
				return;
			}
			break;
		case PS_STRUCT:
			if (style == STYLE_TECTON && is_object(v))
			{
				/* Tecton serves a struct as the list of its field values */
				pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
				for (int i = 0; i < t->nfields; i++)
				{
					JsonbValue *fv = get_key(v->val.binary.data, t->fieldnames[i]);
					JsonbValue	null = {.type = jbvNull};

					render(st, fv ? fv : &null, t->fields[i], style, WJB_ELEM);
				}
				pushJsonbValue(st, WJB_END_ARRAY, NULL);
				return;
			}
			break;
		case PS_MAP:
			if (style == STYLE_TECTON && is_object(v))
			{
				JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
				JsonbValue	k;
				JsonbValue	val;
				JsonbIteratorToken t2;

				pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
				while ((t2 = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
				{
					if (t2 != WJB_KEY)
						continue;
					pushJsonbValue(st, WJB_KEY, &k);
					JsonbIteratorNext(&it, &val, true);
					render(st, &val, t->elem, style, WJB_VALUE);
				}
				pushJsonbValue(st, WJB_END_OBJECT, NULL);
				return;
			}
			break;
		default:
			break;
	}
	pushJsonbValue(st, tok, v);
}

/* Tecton's dataType of a feature: {"type": ..., "elementType" | "fields" | ...} */
static void
tecton_data_type(JsonbParseState **st, PsTypeSpec *t)
{
	const char *name;

	check_stack_depth();
	switch (t->kind)
	{
		case PS_INT2:
		case PS_INT4:
		case PS_INT8:
			name = "int64";
			break;
		case PS_FLOAT4:
			name = "float32";
			break;
		case PS_FLOAT8:
		case PS_NUMERIC:
			name = "float64";
			break;
		case PS_BOOL:
			name = "boolean";
			break;
		case PS_TIMESTAMPTZ:
		case PS_TIMESTAMP:
		case PS_DATE:
			name = "timestamp";
			break;
		case PS_ARRAY:
			name = "array";
			break;
		case PS_STRUCT:
			name = "struct";
			break;
		case PS_MAP:
			name = "map";
			break;
		default:
			name = "string";
			break;
	}
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	ps_jsonb_string(st, "type", name);
	if (t->kind == PS_ARRAY && t->elem != NULL)
	{
		ps_jsonb_key(st, "elementType");
		tecton_data_type(st, t->elem);
	}
	else if (t->kind == PS_STRUCT)
	{
		ps_jsonb_key(st, "fields");
		pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
		for (int i = 0; i < t->nfields; i++)
		{
			pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
			ps_jsonb_string(st, "name", t->fieldnames[i]);
			ps_jsonb_key(st, "dataType");
			tecton_data_type(st, t->fields[i]);
			pushJsonbValue(st, WJB_END_OBJECT, NULL);
		}
		pushJsonbValue(st, WJB_END_ARRAY, NULL);
	}
	else if (t->kind == PS_MAP && t->elem != NULL)
	{
		ps_jsonb_key(st, "keyType");
		pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
		ps_jsonb_string(st, "type", "string");
		pushJsonbValue(st, WJB_END_OBJECT, NULL);
		ps_jsonb_key(st, "valueType");
		tecton_data_type(st, t->elem);
	}
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/* ---------------------------------------------------------------------
 * Tecton feature serving
 * --------------------------------------------------------------------- */

typedef struct TectonRequest
{
	char	   *service;
	List	   *targets;
	bool		names;
	bool		data_types;
	bool		effective_times;
	bool		serving_status;
	List	   *keys;			/* JsonbValue * of each join_key_map */
} TectonRequest;

static const char *const tecton_params_fields[] = {
	"feature_service_name", "feature_service_id", "workspace_name", "join_key_map",
	"request_context_map", "metadata_options", "allow_partial_results",
	"request_options", "request_data", NULL
};
static const char *const tecton_metadata_fields[] = {
	"include_names", "include_effective_times", "include_data_types", "include_types",
	"include_slo_info", "include_serving_status", "include_feature_descriptions",
	"include_feature_tags", NULL
};
static const char *const tecton_row_fields[] = {"join_key_map", "request_context_map", NULL};

/* request_context_map: pushsource has no request-time features */
static void
check_request_context(JsonbContainer *obj, const char *what, bool ignore_extra)
{
	JsonbValue *ctx = get_field(obj, "request_context_map", "requestContextMap");

	if (ctx == NULL || ctx->type == jbvNull || ignore_extra)
		return;
	if (!is_object(ctx))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: \"request_context_map\" must be an object", what)));
	if (JsonContainerSize(ctx->val.binary.data) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: \"request_context_map\" must be empty: pushsource serves no request-time (on-demand) features", what),
				 errhint("Leave it out, or set request_options.ignore_extra_request_context_fields.")));
}

static JsonbValue *
join_key_map(JsonbContainer *obj, const char *what)
{
	JsonbValue *m = get_field(obj, "join_key_map", "joinKeyMap");

	if (!is_object(m))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: \"join_key_map\" is required and must be an object of join key values", what),
				 errhint("Tecton sends Int64 keys as strings of digits, as in {\"user_id\": \"42\"}; numbers work too.")));
	return m;
}

static void
parse_tecton(Jsonb *req, bool batch, TectonRequest *r)
{
	const char *what = batch ? "get-features-batch" : "get-features";
	JsonbContainer *root = request_object(req, what, "{\"params\": {...}}");
	JsonbValue *params;
	JsonbContainer *p;
	JsonbValue *opts;
	JsonbValue *ropts;
	char	   *workspace;
	bool		ignore_extra = false;
	static const char *const top[] = {"params", NULL};

	memset(r, 0, sizeof(*r));
	check_fields(root, top, what);
	params = get_key(root, "params");
	if (!is_object(params))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: \"params\" is required and must be an object", what)));
	p = params->val.binary.data;
	check_fields(p, tecton_params_fields, what);
	if (get_field(p, "feature_service_id", "featureServiceId") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s: \"feature_service_id\" is not supported; name the service with \"feature_service_name\"", what)));
	r->service = string_field(p, "feature_service_name", "featureServiceName", what, true);
	workspace = string_field(p, "workspace_name", "workspaceName", what, true);
	if (ps_workspace_mismatch(workspace) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s: %s", what, ps_workspace_mismatch(workspace))));
	(void) bool_field(p, "allow_partial_results", "allowPartialResults", what);
	ropts = get_field(p, "request_options", "requestOptions");
	if (ropts != NULL && ropts->type != jbvNull)
	{
		if (!is_object(ropts))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: \"request_options\" must be an object", what)));
		ignore_extra = bool_field(ropts->val.binary.data, "ignore_extra_request_context_fields",
								  "ignoreExtraRequestContextFields", what);
	}
	opts = get_field(p, "metadata_options", "metadataOptions");
	if (opts != NULL && opts->type != jbvNull)
	{
		JsonbContainer *o;

		if (!is_object(opts))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: \"metadata_options\" must be an object", what)));
		o = opts->val.binary.data;
		check_fields(o, tecton_metadata_fields, what);
		r->names = bool_field(o, "include_names", "includeNames", what);
		r->effective_times = bool_field(o, "include_effective_times", "includeEffectiveTimes", what);
		r->data_types = bool_field(o, "include_data_types", "includeDataTypes", what) ||
			bool_field(o, "include_types", "includeTypes", what);
		r->serving_status = bool_field(o, "include_serving_status", "includeServingStatus", what);
		/* slo info, descriptions, tags: accepted, not served */
		(void) bool_field(o, "include_slo_info", "includeSloInfo", what);
		(void) bool_field(o, "include_feature_descriptions", "includeFeatureDescriptions", what);
		(void) bool_field(o, "include_feature_tags", "includeFeatureTags", what);
	}
	if (!batch)
	{
		if (get_field(p, "request_data", "requestData") != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: \"request_data\" belongs to get-features-batch; send \"join_key_map\"", what)));
		r->keys = list_make1(join_key_map(p, what));
		check_request_context(p, what, ignore_extra);
	}
	else
	{
		JsonbValue *rows = get_field(p, "request_data", "requestData");
		int			n;

		if (get_field(p, "join_key_map", "joinKeyMap") != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: send one {\"join_key_map\": {...}} per row in \"request_data\"", what)));
		if (!is_array(rows))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: \"request_data\" is required and must be an array of {\"join_key_map\": {...}}", what)));
		n = JsonContainerSize(rows->val.binary.data);
		for (int i = 0; i < n; i++)
		{
			JsonbValue *row = getIthJsonbValueFromContainer(rows->val.binary.data, i);
			char	   *rw = psprintf("%s, request_data[%d]", what, i);

			if (!is_object(row))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s: must be an object with \"join_key_map\"", rw)));
			check_fields(row->val.binary.data, tecton_row_fields, rw);
			r->keys = lappend(r->keys, join_key_map(row->val.binary.data, rw));
			check_request_context(row->val.binary.data, rw, ignore_extra);
		}
	}
	ps_check_name(r->service, "feature service");
	r->targets = ps_serve_targets(r->service);
}

static const char *
tecton_status(const char *status)
{
	return strcmp(status, "PRESENT") == 0 ? "PRESENT" : "MISSING_DATA";
}

static void
tecton_features(JsonbParseState **st, List *served)
{
	ListCell   *lc;

	ps_jsonb_key(st, "features");
	pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
	foreach(lc, served)
	{
		PsServed   *f = lfirst(lc);

		render(st, &f->value, f->type, STYLE_TECTON, WJB_ELEM);
	}
	pushJsonbValue(st, WJB_END_ARRAY, NULL);
}

/*
 * metadata.features: one item per feature.  rows holds each key's list of
 * PsServed; a batch gives a status per row and the newest effective time.
 */
static void
tecton_metadata(JsonbParseState **st, TectonRequest *r, List *rows, bool batch)
{
	List	   *first = linitial(rows);
	int			nf = list_length(first);

	if (!r->names && !r->data_types && !r->effective_times && !r->serving_status)
		return;
	ps_jsonb_key(st, "metadata");
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	ps_jsonb_key(st, "features");
	pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < nf; i++)
	{
		PsServed   *f = list_nth(first, i);
		ListCell   *lc;

		pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
		if (r->names)
			ps_jsonb_string(st, "name", f->name);
		if (r->data_types)
		{
			ps_jsonb_key(st, "dataType");
			tecton_data_type(st, f->type);
		}
		if (r->effective_times)
		{
			char	   *newest = NULL;

			foreach(lc, rows)
			{
				PsServed   *g = list_nth(lfirst(lc), i);

				if (ps_served_effective_time(g) != NULL &&
					(newest == NULL || strcmp(g->effective_time, newest) > 0))
					newest = g->effective_time;
			}
			if (newest != NULL)
				ps_jsonb_string(st, "effectiveTime", newest);
		}
		if (r->serving_status)
		{
			if (!batch)
				ps_jsonb_string(st, "status", tecton_status(f->status));
			else
			{
				JsonbValue	s;

				ps_jsonb_key(st, "status");
				pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
				foreach(lc, rows)
				{
					s = string_value(tecton_status(((PsServed *) list_nth(lfirst(lc), i))->status));
					pushJsonbValue(st, WJB_ELEM, &s);
				}
				pushJsonbValue(st, WJB_END_ARRAY, NULL);
			}
		}
		pushJsonbValue(st, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(st, WJB_END_ARRAY, NULL);
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

static Jsonb *
tecton_get_features(Jsonb *req, bool batch, int64 *nkeys)
{
	TectonRequest r;
	List	   *rows = NIL;
	ListCell   *lc;
	JsonbParseState *st = NULL;

	parse_tecton(req, batch, &r);
	foreach(lc, r.keys)
		rows = lappend(rows, ps_serve_key(r.targets, r.service, lfirst(lc), -1));
	*nkeys = list_length(rows);

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	ps_jsonb_key(&st, "result");
	if (!batch)
	{
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		tecton_features(&st, linitial(rows));
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	else
	{
		pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
		foreach(lc, rows)
		{
			pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
			tecton_features(&st, lfirst(lc));
			pushJsonbValue(&st, WJB_END_OBJECT, NULL);
		}
		pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	}
	if (rows != NIL)
		tecton_metadata(&st, &r, rows, batch);
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

PG_FUNCTION_INFO_V1(fs_tecton_get_features);
Datum
fs_tecton_get_features(PG_FUNCTION_ARGS)
{
	int64		n;

	PG_RETURN_JSONB_P(tecton_get_features(PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0), false, &n));
}

PG_FUNCTION_INFO_V1(fs_tecton_get_features_batch);
Datum
fs_tecton_get_features_batch(PG_FUNCTION_ARGS)
{
	int64		n;

	PG_RETURN_JSONB_P(tecton_get_features(PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0), true, &n));
}

/* ---------------------------------------------------------------------
 * Feast feature server
 * --------------------------------------------------------------------- */

static const char *const feast_push_fields[] = {
	"push_source_name", "df", "to", "allow_registry_cache", "transform_on_write", NULL
};
static const char *const feast_read_fields[] = {
	"features", "feature_service", "entities", "full_feature_names", NULL
};

/*
 * Feast's /push: {"push_source_name", "df": {column: [values]}, "to"}.
 * The columns become records (row i takes the i-th value of each), pushed
 * in one call; the reply is JSON null, as Feast's.
 */
static Jsonb *
feast_push(Jsonb *req, List **pushed)
{
	const char *what = "push";
	JsonbContainer *root = request_object(req, what,
										   "{\"push_source_name\", \"df\": {column: [values]}, \"to\"}");
	char	   *source;
	char	   *to;
	JsonbValue *df;
	PsPushMode	mode;
	JsonbIterator *it;
	JsonbValue	k;
	JsonbValue	v;
	JsonbIteratorToken tok;
	List	   *names = NIL;
	List	   *columns = NIL;
	int			nrows = -1;
	JsonbParseState *st = NULL;
	ListCell   *ln;
	ListCell   *lcol;
	int64		accepted;

	check_fields(root, feast_push_fields, what);
	source = string_field(root, "push_source_name", NULL, what, true);
	to = string_field(root, "to", NULL, what, false);
	(void) bool_field(root, "allow_registry_cache", NULL, what);
	(void) bool_field(root, "transform_on_write", NULL, what);
	if (to == NULL || strcmp(to, "online") == 0)
		mode = PS_MODE_ONLINE;	/* Feast's default */
	else if (strcmp(to, "offline") == 0)
		mode = PS_MODE_OFFLINE;
	else if (strcmp(to, "online_and_offline") == 0 || strcmp(to, "both") == 0)
		mode = PS_MODE_ONLINE_AND_OFFLINE;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: \"to\" must be \"online\", \"offline\" or \"online_and_offline\", got \"%s\"", what, to)));
	df = get_key(root, "df");
	if (!is_object(df))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: \"df\" is required and must be an object of columns, {\"column\": [values, ...]}", what)));
	it = JsonbIteratorInit(df->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *name;
		int			n;

		if (tok != WJB_KEY)
			continue;
		name = pnstrdup(k.val.string.val, k.val.string.len);
		JsonbIteratorNext(&it, &v, true);
		if (!is_array(&v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: column \"%s\" of \"df\" must be an array of values, got %s", what, name,
							ps_json_text(&v, 80))));
		n = JsonContainerSize(v.val.binary.data);
		if (nrows >= 0 && n != nrows)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: column \"%s\" of \"df\" has %d values, column \"%s\" has %d",
							what, name, n, (char *) linitial(names), nrows),
					 errhint("Every column of a dataframe has one value per row.")));
		nrows = n;
		names = lappend(names, name);
		columns = lappend(columns, v.val.binary.data);
	}
	if (nrows < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: \"df\" has no columns", what)));

	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < nrows; i++)
	{
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		forboth(ln, names, lcol, columns)
		{
			ps_jsonb_key(&st, lfirst(ln));
			pushJsonbValue(&st, WJB_VALUE,
						   getIthJsonbValueFromContainer(lfirst(lcol), i));
		}
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	(void) ps_push(source, JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_ARRAY, NULL)),
				   mode, false, false, &accepted);
	if (accepted > 0)
	{
		PsPushed   *p = palloc(sizeof(PsPushed));

		p->source = source;
		p->records = accepted;
		*pushed = list_make1(p);
	}
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("null")));
}

PG_FUNCTION_INFO_V1(fs_feast_push);
Datum
fs_feast_push(PG_FUNCTION_ARGS)
{
	List	   *pushed = NIL;

	PG_RETURN_JSONB_P(feast_push(PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0), &pushed));
}

/* "view:feature" (Feast) or "view.feature" */
static void
add_feature_ref(List **targets, List **requested, const char *ref, const char *what)
{
	const char *sep = strchr(ref, ':');
	char	   *view;
	char	   *feature;
	PsServeTarget *t = NULL;
	ListCell   *lc;
	PsView	   *v;
	bool		known = false;

	if (sep == NULL)
		sep = strchr(ref, '.');
	if (sep == NULL || sep == ref || sep[1] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: feature reference \"%s\" must be \"feature_view:feature\"", what, ref)));
	view = pnstrdup(ref, sep - ref);
	feature = pstrdup(sep + 1);
	ps_check_name(view, "feature view");
	foreach(lc, *targets)
		if (strcmp(((PsServeTarget *) lfirst(lc))->view->name, view) == 0)
			t = lfirst(lc);
	if (t == NULL)
	{
		v = ps_lookup_view(view, true);
		if (v == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("%s: feature view \"%s\" does not exist", what, view),
					 errhint("Feature views are listed in pushsource.feature_views.")));
		ps_serve_check_view(v);
		t = palloc0(sizeof(PsServeTarget));
		t->view = v;
		*targets = lappend(*targets, t);
	}
	v = t->view;
	for (int i = 0; i < ps_view_nserved(v) && !known; i++)
		known = strcmp(ps_view_served_name(v, i), feature) == 0;
	if (!known)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("%s: feature view \"%s\" has no feature \"%s\"", what, view, feature),
				 errhint("SELECT pushsource.fs_get_columns('%s') lists its features.", view)));
	foreach(lc, t->features)
		if (strcmp(lfirst(lc), feature) == 0)
			return;
	t->features = lappend(t->features, feature);
	*requested = lappend(*requested, psprintf("%s.%s", view, feature));
}

static Jsonb *
feast_get_online_features(Jsonb *req, int64 *nkeys)
{
	const char *what = "get-online-features";
	JsonbContainer *root = request_object(req, what,
										  "{\"features\": [\"view:feature\"] or \"feature_service\", \"entities\": {key: [values]}}");
	JsonbValue *features;
	char	   *service;
	JsonbValue *entities;
	bool		full;
	List	   *targets = NIL;
	const char *name;
	List	   *keynames = NIL;
	List	   *keycols = NIL;
	int			nrows = -1;
	List	   *rows = NIL;
	JsonbIterator *it;
	JsonbValue	k;
	JsonbValue	v;
	JsonbIteratorToken tok;
	JsonbParseState *st = NULL;
	List	   *first;
	List	   *requested = NIL;	/* "view.feature" in the request's order */
	int		   *order;
	int			nfeat;
	ListCell   *lc;
	ListCell   *lc2;

	check_fields(root, feast_read_fields, what);
	features = get_key(root, "features");
	service = string_field(root, "feature_service", NULL, what, false);
	full = bool_field(root, "full_feature_names", NULL, what);
	if ((features == NULL || features->type == jbvNull) == (service == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: send either \"features\" (a list of \"view:feature\") or \"feature_service\"", what)));
	if (service != NULL)
	{
		ps_check_name(service, "feature service");
		targets = ps_serve_targets(service);
		name = service;
	}
	else
	{
		int			n;

		if (!is_array(features) || JsonContainerSize(features->val.binary.data) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: \"features\" must be a non-empty list of \"view:feature\" strings", what)));
		n = JsonContainerSize(features->val.binary.data);
		for (int i = 0; i < n; i++)
		{
			JsonbValue *f = getIthJsonbValueFromContainer(features->val.binary.data, i);

			if (f->type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s: features[%d] must be a string \"view:feature\", got %s", what, i,
								ps_json_text(f, 80))));
			add_feature_ref(&targets, &requested, pnstrdup(f->val.string.val, f->val.string.len), what);
		}
		name = "the requested features";
	}

	entities = get_key(root, "entities");
	if (!is_object(entities))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: \"entities\" is required and must be an object of join key columns, {\"key\": [values, ...]}", what)));
	it = JsonbIteratorInit(entities->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *key;
		int			n;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(k.val.string.val, k.val.string.len);
		JsonbIteratorNext(&it, &v, true);
		if (!is_array(&v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: entity \"%s\" must be an array of values, one per row, got %s",
							what, key, ps_json_text(&v, 80))));
		n = JsonContainerSize(v.val.binary.data);
		if (nrows >= 0 && n != nrows)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: entity \"%s\" has %d values, entity \"%s\" has %d", what, key, n,
							(char *) linitial(keynames), nrows),
					 errhint("Every entity column has one value per row.")));
		nrows = n;
		keynames = lappend(keynames, key);
		keycols = lappend(keycols, v.val.binary.data);
	}
	if (nrows < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: \"entities\" names no join key", what)));

	for (int i = 0; i < nrows; i++)
	{
		JsonbParseState *kst = NULL;
		Jsonb	   *keyobj;
		JsonbValue	root;

		pushJsonbValue(&kst, WJB_BEGIN_OBJECT, NULL);
		forboth(lc, keynames, lc2, keycols)
		{
			ps_jsonb_key(&kst, lfirst(lc));
			pushJsonbValue(&kst, WJB_VALUE, getIthJsonbValueFromContainer(lfirst(lc2), i));
		}
		keyobj = JsonbValueToJsonb(pushJsonbValue(&kst, WJB_END_OBJECT, NULL));
		root.type = jbvBinary;
		root.val.binary.data = &keyobj->root;
		root.val.binary.len = VARSIZE(keyobj) - VARHDRSZ;
		rows = lappend(rows, ps_serve_key(targets, name, &root, -1));
	}
	*nkeys = nrows;

	/* the features every row has, in the same order */
	if (nrows > 0)
		first = linitial(rows);
	else
	{
		/* no rows: the names still come from the targets */
		first = NIL;
		foreach(lc, targets)
		{
			PsServeTarget *t = lfirst(lc);
			PsView	   *vw = t->view;

			for (int i = 0; i < ps_view_nserved(vw); i++)
			{
				const char *fname = ps_view_served_name(vw, i);
				PsServed   *f;

				if (!ps_serve_wants(t, fname))
					continue;
				f = palloc0(sizeof(PsServed));
				f->view = vw;
				f->feature = fname;
				f->name = psprintf("%s.%s", vw->name, fname);
				first = lappend(first, f);
			}
		}
	}
	/* features in the order they were asked for (a service: its views' order) */
	nfeat = list_length(first);
	order = palloc(sizeof(int) * Max(nfeat, 1));
	for (int i = 0; i < nfeat; i++)
		order[i] = i;
	if (requested != NIL)
	{
		int			k = 0;

		foreach(lc, requested)
			for (int i = 0; i < nfeat; i++)
				if (strcmp(((PsServed *) list_nth(first, i))->name, lfirst(lc)) == 0)
					order[k++] = i;
		Assert(k == nfeat);
	}
	if (!full)
	{
		foreach(lc, first)
		{
			PsServed   *f = lfirst(lc);

			for (ListCell *lk = list_head(keynames); lk != NULL; lk = lnext(keynames, lk))
				if (strcmp(lfirst(lk), f->feature) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("%s: feature \"%s\" of view \"%s\" has the name of a join key",
									what, f->feature, f->view->name),
							 errhint("Set \"full_feature_names\": true.")));
			for (ListCell *lo = list_head(first); lo != lc; lo = lnext(first, lo))
				if (strcmp(((PsServed *) lfirst(lo))->feature, f->feature) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("%s: feature name \"%s\" is in feature views \"%s\" and \"%s\"",
									what, f->feature, ((PsServed *) lfirst(lo))->view->name, f->view->name),
							 errhint("Set \"full_feature_names\": true to name them view__feature.")));
		}
	}

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	ps_jsonb_key(&st, "metadata");
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	ps_jsonb_key(&st, "feature_names");
	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	foreach(lc, keynames)
	{
		v = string_value(lfirst(lc));
		pushJsonbValue(&st, WJB_ELEM, &v);
	}
	for (int k = 0; k < nfeat; k++)
	{
		PsServed   *f = list_nth(first, order[k]);

		v = string_value(full ? psprintf("%s__%s", f->view->name, f->feature) : f->feature);
		pushJsonbValue(&st, WJB_ELEM, &v);
	}
	pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	pushJsonbValue(&st, WJB_END_OBJECT, NULL);

	ps_jsonb_key(&st, "results");
	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	/* join keys: the values asked for, PRESENT, at the epoch (as Feast) */
	foreach(lc, keycols)
	{
		JsonbContainer *col = lfirst(lc);
		JsonbValue	s;

		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		ps_jsonb_key(&st, "values");
		pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
		for (int i = 0; i < nrows; i++)
			pushJsonbValue(&st, WJB_ELEM, getIthJsonbValueFromContainer(col, i));
		pushJsonbValue(&st, WJB_END_ARRAY, NULL);
		ps_jsonb_key(&st, "statuses");
		pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
		s = string_value("PRESENT");
		for (int i = 0; i < nrows; i++)
			pushJsonbValue(&st, WJB_ELEM, &s);
		pushJsonbValue(&st, WJB_END_ARRAY, NULL);
		ps_jsonb_key(&st, "event_timestamps");
		pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
		s = string_value("1970-01-01T00:00:00Z");
		for (int i = 0; i < nrows; i++)
			pushJsonbValue(&st, WJB_ELEM, &s);
		pushJsonbValue(&st, WJB_END_ARRAY, NULL);
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	for (int k = 0; k < nfeat; k++)
	{
		int			f = order[k];
		JsonbValue	s;

		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		ps_jsonb_key(&st, "values");
		pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
		foreach(lc, rows)
		{
			PsServed   *sv = list_nth(lfirst(lc), f);

			render(&st, &sv->value, sv->type, STYLE_FEAST, WJB_ELEM);
		}
		pushJsonbValue(&st, WJB_END_ARRAY, NULL);
		ps_jsonb_key(&st, "statuses");
		pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
		foreach(lc, rows)
		{
			PsServed   *sv = list_nth(lfirst(lc), f);

			s = string_value(strcmp(sv->status, "OUTSIDE_TTL") == 0 ? "OUTSIDE_MAX_AGE" :
							 strcmp(sv->status, "PRESENT") != 0 ? "NOT_FOUND" :
							 sv->value.type == jbvNull ? "NULL_VALUE" : "PRESENT");
			pushJsonbValue(&st, WJB_ELEM, &s);
		}
		pushJsonbValue(&st, WJB_END_ARRAY, NULL);
		ps_jsonb_key(&st, "event_timestamps");
		pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
		foreach(lc, rows)
		{
			PsServed   *sv = list_nth(lfirst(lc), f);

			s = string_value(ps_served_effective_time(sv) ? sv->effective_time : "1970-01-01T00:00:00Z");
			pushJsonbValue(&st, WJB_ELEM, &s);
		}
		pushJsonbValue(&st, WJB_END_ARRAY, NULL);
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

PG_FUNCTION_INFO_V1(fs_feast_get_online_features);
Datum
fs_feast_get_online_features(PG_FUNCTION_ARGS)
{
	int64		n;

	PG_RETURN_JSONB_P(feast_get_online_features(PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0), &n));
}

/* ---------------------------------------------------------------------
 * The gateway's entry points
 * --------------------------------------------------------------------- */

static Datum
gateway_row(FunctionCallInfo fcinfo, int status, Jsonb *body, int64 records, List *pushed)
{
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, true};
	ListCell   *lc;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "fs_gateway_request must return a row");
	desc = BlessTupleDesc(desc);
	values[0] = Int32GetDatum(status);
	values[1] = JsonbPGetDatum(body);
	values[2] = Int64GetDatum(records);
	if (desc->natts > 3 && pushed != NIL)
	{
		StringInfoData s;

		initStringInfo(&s);
		foreach(lc, pushed)
		{
			PsPushed   *p = lfirst(lc);

			appendStringInfo(&s, "%s%s=" INT64_FORMAT, s.len > 0 ? " " : "", p->source, p->records);
		}
		values[3] = CStringGetTextDatum(s.data);
		nulls[3] = false;
	}
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/*
 * fs_gateway_request(endpoint, request text, api_key)
 *		returns (status int, body jsonb, records bigint, pushed text)
 *
 * Runs one request of the gateway as the role of its API key: the user
 * id is switched for the call, as a SECURITY DEFINER function's is, so
 * every privilege check (INSERT on a source, SELECT on a store) is the
 * key's role's.  An error propagates (the gateway then asks
 * fs_gateway_error for the status); a Tecton ingest reply with
 * requestError or recordErrors is status 400, nothing written.
 * pushed is "source=records ..." for the gateway's metrics.
 */
PG_FUNCTION_INFO_V1(fs_gateway_request);
Datum
fs_gateway_request(PG_FUNCTION_ARGS)
{
	char	   *endpoint;
	Jsonb	   *req = NULL;
	char	   *key = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	Oid			role;
	Oid			save_userid;
	int			save_sec;
	int			status = 200;
	Jsonb	   *body;
	int64		records = 0;
	List	   *pushed = NIL;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the endpoint of a gateway request must not be null")));
	endpoint = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (strcmp(endpoint, "ingest") != 0 && strcmp(endpoint, "push") != 0 &&
		strcmp(endpoint, "get-features") != 0 && strcmp(endpoint, "get-features-batch") != 0 &&
		strcmp(endpoint, "get-online-features") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown gateway endpoint \"%s\"", endpoint),
				 errhint("Endpoints: ingest, get-features, get-features-batch, push, get-online-features.")));
	role = ps_api_key_role(key);
	/* the body is parsed only for a known key: no work for strangers */
	if (!PG_ARGISNULL(1))
		req = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
												 CStringGetDatum(text_to_cstring(PG_GETARG_TEXT_PP(1)))));

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(role, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	if (strcmp(endpoint, "ingest") == 0)
	{
		bool		bad;
		ListCell   *lc;

		body = ps_ingest(req, &bad, &pushed);
		if (bad)
			status = 400;
		foreach(lc, pushed)
			records += ((PsPushed *) lfirst(lc))->records;
	}
	else if (strcmp(endpoint, "push") == 0)
	{
		body = feast_push(req, &pushed);
		if (pushed != NIL)
			records = ((PsPushed *) linitial(pushed))->records;
	}
	else if (strcmp(endpoint, "get-online-features") == 0)
		body = feast_get_online_features(req, &records);
	else
		body = tecton_get_features(req, strcmp(endpoint, "get-features-batch") == 0, &records);
	SetUserIdAndSecContext(save_userid, save_sec);
	return gateway_row(fcinfo, status, body, records, pushed);
}

/* The HTTP status of an SQLSTATE. */
static int
http_status(const char *sqlstate)
{
	if (strlen(sqlstate) != 5)
		return 500;
	if (strncmp(sqlstate, "28", 2) == 0)
		return 401;
	if (strcmp(sqlstate, "42501") == 0)
		return 403;
	if (strcmp(sqlstate, "42704") == 0)
		return 404;
	if (strcmp(sqlstate, "57014") == 0)
		return 504;				/* statement_timeout (--timeout) */
	if (strcmp(sqlstate, "25006") == 0 ||	/* read only: a standby */
		strncmp(sqlstate, "08", 2) == 0 ||	/* connection */
		strncmp(sqlstate, "53", 2) == 0 ||	/* resources */
		strncmp(sqlstate, "57P", 3) == 0 || /* shutdown, cannot connect now */
		strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0 ||
		strcmp(sqlstate, "55P03") == 0)
		return 503;
	if (strcmp(sqlstate, "42P01") == 0)
		return 500;				/* a broken view: the server's problem */
	if (strncmp(sqlstate, "22", 2) == 0 || strncmp(sqlstate, "23", 2) == 0 ||
		strncmp(sqlstate, "42", 2) == 0 || strncmp(sqlstate, "54", 2) == 0 ||
		strcmp(sqlstate, "0A000") == 0 || strcmp(sqlstate, "55000") == 0)
		return 400;
	return 500;
}

/*
 * fs_gateway_error(endpoint, sqlstate, message, detail, hint)
 *		returns (status int, body jsonb)
 *
 * The status of an error a request raised, and the error body in the
 * shape of the endpoint's API: Tecton ingest's requestError, Tecton
 * serving's {"error", "code", "message"} (gRPC codes), Feast's {"detail"}.
 */
PG_FUNCTION_INFO_V1(fs_gateway_error);
Datum
fs_gateway_error(PG_FUNCTION_ARGS)
{
	const char *endpoint = PG_ARGISNULL(0) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(0));
	const char *sqlstate = PG_ARGISNULL(1) ? "XX000" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	StringInfoData msg;
	int			status = http_status(sqlstate);
	JsonbParseState *st = NULL;
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	/* "message. Detail. Hint: hint" */
	initStringInfo(&msg);
	appendStringInfoString(&msg, PG_ARGISNULL(2) ? "unknown error" : text_to_cstring(PG_GETARG_TEXT_PP(2)));
	for (int i = 3; i <= 4; i++)
	{
		if (PG_ARGISNULL(i) || VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(i)) == 0)
			continue;
		if (msg.len > 0 && strchr(".!?", msg.data[msg.len - 1]) == NULL)
			appendStringInfoChar(&msg, '.');
		appendStringInfo(&msg, " %s%s", i == 4 ? "Hint: " : "", text_to_cstring(PG_GETARG_TEXT_PP(i)));
	}

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	if (strcmp(endpoint, "ingest") == 0)
	{
		const char *type = status == 401 ? "AuthenticationError" :
			status == 403 ? "PermissionDeniedError" :
			status == 404 ? "NotFoundError" :
			status == 400 ? "RequestValidationError" :
			status == 503 ? "ServiceUnavailableError" :
			status == 504 ? "TimeoutError" : "InternalError";

		ps_jsonb_key(&st, "requestError");
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		ps_jsonb_string(&st, "errorMessage", msg.data);
		ps_jsonb_string(&st, "errorType", type);
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	else if (strcmp(endpoint, "get-features") == 0 || strcmp(endpoint, "get-features-batch") == 0)
	{
		/* gRPC status codes, as Tecton's serving API reports them */
		int			code = status == 401 ? 16 : status == 403 ? 7 : status == 404 ? 5 :
			status == 503 ? 14 : status == 504 ? 4 : status == 500 ? 13 :
			strcmp(sqlstate, "55000") == 0 ? 9 : 3;
		JsonbValue	n;

		ps_jsonb_string(&st, "error", msg.data);
		ps_jsonb_key(&st, "code");
		n.type = jbvNumeric;
		n.val.numeric = int64_to_numeric(code);
		pushJsonbValue(&st, WJB_VALUE, &n);
		ps_jsonb_string(&st, "message", msg.data);
	}
	else
		ps_jsonb_string(&st, "detail", msg.data);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "fs_gateway_error must return a row");
	desc = BlessTupleDesc(desc);
	values[0] = Int32GetDatum(status);
	values[1] = JsonbPGetDatum(JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)));
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}
