/*
 * typespec.c
 *		Parsing of push schemas: "user_id text, ts timestamptz" or Tecton's
 *		"user_id String, ts Timestamp, tags Array(String)".
 *
 * A schema is split into columns at top-level commas; each column is a name
 * and a type.  Tecton type names are matched first and case-sensitively
 * (String, Int32, Int64, Float32, Float64, Bool, Timestamp, Array(T),
 * Struct(name T, ...), Map(String, T)); anything else is resolved as a
 * PostgreSQL type name by the parser's own type-name grammar, so no user
 * text is ever spliced into SQL.  The result, a PsTypeSpec tree, drives both
 * the column type of the source table and the JSON validation rules.
 */
#include "pushsource.h"

#include "miscadmin.h"

#include "access/transam.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

static PsTypeSpec *parse_tecton(const char *str, int len, const char *column,
								bool *matched);

static void
skip_space(const char **p, const char *end)
{
	while (*p < end && isspace((unsigned char) **p))
		(*p)++;
}

/*
 * Split a schema into column names and type strings at top-level commas.
 */
List *
ps_split_schema(const char *schema, List **types)
{
	List	   *names = NIL;
	const char *p = schema;
	const char *end = schema + strlen(schema);

	*types = NIL;
	while (p < end)
	{
		const char *start;
		const char *stop;
		int			depth = 0;
		const char *q;
		char	   *name;
		char	   *type;

		skip_space(&p, end);
		start = p;
		while (p < end && (depth > 0 || *p != ','))
		{
			/*
			 * Types nest a few levels in practice; a bound keeps the
			 * recursive parse short (each level rescans its text).
			 */
			if (*p == '(')
			{
				if (++depth > PS_MAX_TYPE_DEPTH)
					ereport(ERROR,
							(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							 errmsg("invalid push schema: types nest more than %d levels deep",
									PS_MAX_TYPE_DEPTH),
							 errdetail("At byte %d of the schema.", (int) (p - schema) + 1)));
			}
			else if (*p == ')')
			{
				if (--depth < 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid push schema: unbalanced \")\" in \"%s\"", schema)));
			}
			p++;
		}
		if (depth != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid push schema: unbalanced \"(\" in \"%s\"", schema)));
		stop = p;
		while (stop > start && isspace((unsigned char) stop[-1]))
			stop--;
		if (stop == start)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid push schema: empty column definition in \"%s\"", schema),
					 errhint("Write columns as \"name type\" separated by commas, e.g. \"user_id String, ts Timestamp\".")));

		q = start;
		while (q < stop && !isspace((unsigned char) *q))
			q++;
		name = pnstrdup(start, q - start);
		skip_space(&q, stop);
		if (q >= stop)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid push schema: column \"%s\" has no type", name),
					 errhint("Write columns as \"name type\", e.g. \"clicked Int64\".")));
		type = pnstrdup(q, stop - q);
		names = lappend(names, name);
		*types = lappend(*types, type);
		if (p < end)
		{
			p++;				/* skip the comma */
			skip_space(&p, end);
			if (p >= end)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid push schema: empty column definition in \"%s\"", schema),
						 errhint("Write columns as \"name type\" separated by commas, e.g. \"user_id String, ts Timestamp\".")));
		}
	}
	if (names == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid push schema: no columns")));
	return names;
}

static PsTypeSpec *
new_spec(PsTypeKind kind, Oid typid, const char *display)
{
	PsTypeSpec *spec = palloc0(sizeof(PsTypeSpec));

	spec->kind = kind;
	spec->typid = typid;
	spec->typmod = -1;
	spec->display = pstrdup(display);
	return spec;
}

static void
set_array_elem(PsTypeSpec *spec)
{
	get_typlenbyvalalign(spec->elem->typid, &spec->elmlen, &spec->elmbyval,
						 &spec->elmalign);
}

/*
 * Spec of a PostgreSQL type given by OID: the validation kind follows the
 * type; arrays recurse into their element type.
 */
static PsTypeSpec *
spec_for_pg_type(Oid typid, int32 typmod, const char *column)
{
	PsTypeSpec *spec;
	char		typtype = get_typtype(typid);
	Oid			elemtype;

	if (typtype == TYPTYPE_PSEUDO)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column \"%s\" cannot have pseudo-type %s",
						column, format_type_be(typid))));

	/*
	 * Built-in types only: a user-defined type (a domain's CHECK, an input
	 * function) is code its owner wrote, which would run as whoever pushes,
	 * reads features by key or deletes keys -- a superuser too.  Checked
	 * when a source is registered and whenever its catalog entry is loaded
	 * (a column can be altered afterwards).
	 */
	if (typid >= FirstNormalObjectId)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("column \"%s\": type %s is not a built-in type",
						column, format_type_be_qualified(typid)),
				 errdetail("A push schema takes Tecton's types and PostgreSQL's built-in types: a user-defined type's functions would run as whoever pushes or reads."),
				 errhint("Use the built-in type underneath, e.g. text for a domain over text.")));

	elemtype = get_element_type(typid);
	if (OidIsValid(elemtype) && get_typlen(typid) == -1)
	{
		spec = new_spec(PS_ARRAY, typid, format_type_with_typemod(typid, typmod));
		spec->elem = spec_for_pg_type(elemtype, typmod, column);
		if (spec->elem->kind == PS_ARRAY)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("column \"%s\": nested array types are not supported", column)));
		set_array_elem(spec);
		spec->typmod = typmod;
		return spec;
	}

	switch (typid)
	{
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			spec = new_spec(PS_STRING, typid, "");
			break;
		case INT2OID:
			spec = new_spec(PS_INT2, typid, "");
			break;
		case INT4OID:
			spec = new_spec(PS_INT4, typid, "");
			break;
		case INT8OID:
			spec = new_spec(PS_INT8, typid, "");
			break;
		case FLOAT4OID:
			spec = new_spec(PS_FLOAT4, typid, "");
			break;
		case FLOAT8OID:
			spec = new_spec(PS_FLOAT8, typid, "");
			break;
		case NUMERICOID:
			spec = new_spec(PS_NUMERIC, typid, "");
			break;
		case BOOLOID:
			spec = new_spec(PS_BOOL, typid, "");
			break;
		case TIMESTAMPTZOID:
			spec = new_spec(PS_TIMESTAMPTZ, typid, "");
			break;
		case TIMESTAMPOID:
			spec = new_spec(PS_TIMESTAMP, typid, "");
			break;
		case DATEOID:
			spec = new_spec(PS_DATE, typid, "");
			break;
		case JSONBOID:
		case JSONOID:
			spec = new_spec(PS_JSON, typid, "");
			break;
		default:
			spec = new_spec(PS_OTHER, typid, "");
			getTypeInputInfo(typid, &spec->infunc, &spec->ioparam);
			break;
	}
	spec->typmod = typmod;
	spec->display = format_type_with_typemod(typid, typmod);
	return spec;
}

static bool
word_is(const char *str, int len, const char *word)
{
	return len == (int) strlen(word) && strncmp(str, word, len) == 0;
}

/* Trim spaces from both ends of [*str, *str + *len). */
static void
trim(const char **str, int *len)
{
	while (*len > 0 && isspace((unsigned char) (*str)[0]))
	{
		(*str)++;
		(*len)--;
	}
	while (*len > 0 && isspace((unsigned char) (*str)[*len - 1]))
		(*len)--;
}

/*
 * If str is "Word(inner)", return true with inner's bounds.
 */
static bool
is_call(const char *str, int len, const char *word,
		const char **inner, int *innerlen)
{
	int			wl = strlen(word);
	const char *p = str + wl;
	int			rest = len - wl;

	if (len <= wl || strncmp(str, word, wl) != 0)
		return false;
	while (rest > 0 && isspace((unsigned char) *p))
	{
		p++;
		rest--;
	}
	if (rest < 2 || *p != '(' || p[rest - 1] != ')')
		return false;
	*inner = p + 1;
	*innerlen = rest - 2;
	return true;
}

/* Split [str, str+len) at top-level commas into a list of (start, len) pairs. */
static List *
split_args(const char *str, int len)
{
	List	   *parts = NIL;
	int			depth = 0;
	int			start = 0;

	for (int i = 0; i <= len; i++)
	{
		if (i == len || (str[i] == ',' && depth == 0))
		{
			int		   *part = palloc(2 * sizeof(int));

			part[0] = start;
			part[1] = i - start;
			parts = lappend(parts, part);
			start = i + 1;
		}
		else if (str[i] == '(')
			depth++;
		else if (str[i] == ')')
			depth--;
	}
	return parts;
}

static void
bad_tecton_type(const char *column, const char *str, int len, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("column \"%s\": invalid type \"%.*s\": %s", column, len, str, why),
			 errhint("Tecton types are String, Int32, Int64, Float32, Float64, Bool, Timestamp, Array(T), Struct(name T, ...) and Map(String, T); PostgreSQL type names are accepted too.")));
}

static PsTypeSpec *
parse_tecton(const char *str, int len, const char *column, bool *matched)
{
	const char *inner;
	int			innerlen;
	PsTypeSpec *spec;
	bool		sub;

	/* a backstop: ps_split_schema already bounds the nesting (54000) */
	check_stack_depth();

	trim(&str, &len);
	*matched = true;
	if (word_is(str, len, "String"))
		return new_spec(PS_STRING, TEXTOID, "String");
	if (word_is(str, len, "Int32"))
		return new_spec(PS_INT4, INT4OID, "Int32");
	if (word_is(str, len, "Int64"))
		return new_spec(PS_INT8, INT8OID, "Int64");
	if (word_is(str, len, "Float32"))
		return new_spec(PS_FLOAT4, FLOAT4OID, "Float32");
	if (word_is(str, len, "Float64"))
		return new_spec(PS_FLOAT8, FLOAT8OID, "Float64");
	if (word_is(str, len, "Bool"))
		return new_spec(PS_BOOL, BOOLOID, "Bool");
	if (word_is(str, len, "Timestamp"))
		return new_spec(PS_TIMESTAMPTZ, TIMESTAMPTZOID, "Timestamp");

	if (is_call(str, len, "Array", &inner, &innerlen))
	{
		PsTypeSpec *elem = parse_tecton(inner, innerlen, column, &sub);

		if (!sub)
			bad_tecton_type(column, inner, innerlen, "not a Tecton type");
		spec = new_spec(PS_ARRAY, InvalidOid, psprintf("Array(%s)", elem->display));
		spec->elem = elem;
		if (elem->as_jsonb || elem->kind == PS_ARRAY)
		{
			spec->as_jsonb = true;
			spec->typid = JSONBOID;
		}
		else
		{
			spec->typid = get_array_type(elem->typid);
			set_array_elem(spec);
		}
		return spec;
	}
	if (is_call(str, len, "Map", &inner, &innerlen))
	{
		List	   *args = split_args(inner, innerlen);
		int		   *k,
				   *v;
		PsTypeSpec *keyspec;
		PsTypeSpec *valspec;

		if (list_length(args) != 2)
			bad_tecton_type(column, str, len, "Map takes a key and a value type");
		k = linitial(args);
		v = lsecond(args);
		keyspec = parse_tecton(inner + k[0], k[1], column, &sub);
		if (!sub || keyspec->kind != PS_STRING)
			bad_tecton_type(column, str, len, "Map keys must be String");
		valspec = parse_tecton(inner + v[0], v[1], column, &sub);
		if (!sub)
			bad_tecton_type(column, inner + v[0], v[1], "not a Tecton type");
		spec = new_spec(PS_MAP, JSONBOID, psprintf("Map(String, %s)", valspec->display));
		spec->as_jsonb = true;
		spec->elem = valspec;
		return spec;
	}
	if (is_call(str, len, "Struct", &inner, &innerlen))
	{
		List	   *args;
		ListCell   *lc;
		StringInfoData disp;
		int			i = 0;

		trim(&inner, &innerlen);
		if (innerlen == 0)
			bad_tecton_type(column, str, len, "a Struct needs at least one field");
		args = split_args(inner, innerlen);

		spec = new_spec(PS_STRUCT, JSONBOID, "");
		spec->as_jsonb = true;
		spec->nfields = list_length(args);
		spec->fieldnames = palloc(sizeof(char *) * spec->nfields);
		spec->fields = palloc(sizeof(PsTypeSpec *) * spec->nfields);
		initStringInfo(&disp);
		appendStringInfoString(&disp, "Struct(");
		foreach(lc, args)
		{
			int		   *a = lfirst(lc);
			const char *f = inner + a[0];
			int			flen = a[1];
			int			n = 0;

			trim(&f, &flen);
			while (n < flen && (isalnum((unsigned char) f[n]) || f[n] == '_'))
				n++;
			if (n == 0 || n >= flen || !isspace((unsigned char) f[n]) ||
				isdigit((unsigned char) f[0]))
				bad_tecton_type(column, str, len, "Struct fields are written \"name Type\"");
			spec->fieldnames[i] = pnstrdup(f, n);
			for (int j = 0; j < i; j++)
				if (strcmp(spec->fieldnames[j], spec->fieldnames[i]) == 0)
					bad_tecton_type(column, str, len, psprintf("duplicate Struct field \"%s\"", spec->fieldnames[i]));
			spec->fields[i] = parse_tecton(f + n, flen - n, column, &sub);
			if (!sub)
				bad_tecton_type(column, f + n, flen - n, "not a Tecton type");
			appendStringInfo(&disp, "%s%s %s", i > 0 ? ", " : "",
							 spec->fieldnames[i], spec->fields[i]->display);
			i++;
		}
		if (spec->nfields == 0)
			bad_tecton_type(column, str, len, "a Struct needs at least one field");
		appendStringInfoChar(&disp, ')');
		spec->display = disp.data;
		return spec;
	}
	*matched = false;
	return NULL;
}

/*
 * The spec of an existing source column: its type comes from the table
 * (typid, typmod), never from re-parsing the declared text, which would
 * depend on the session's search_path; the declared text only says whether
 * the column was declared with a Tecton type (Struct/Map validation).
 */
PsTypeSpec *
ps_type_for_column(const char *declared, Oid typid, int32 typmod, const char *column)
{
	bool		matched;
	PsTypeSpec *spec = parse_tecton(declared, strlen(declared), column, &matched);

	if (matched)
	{
		if (spec->typid != typid)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" was declared %s but its table column is of type %s",
							column, spec->display, format_type_be(typid)),
					 errhint("The push source table was altered; restore the column type or re-register the source.")));
		return spec;
	}
	spec = spec_for_pg_type(typid, typmod, column);
	return spec;
}

/*
 * Parse one column type.  Errors name the column.
 */
PsTypeSpec *
ps_parse_type(const char *str, const char *column)
{
	bool		matched;
	PsTypeSpec *spec;
	Oid			typid;
	int32		typmod;

	spec = parse_tecton(str, strlen(str), column, &matched);
	if (matched)
		return spec;
	if (strncmp(str, "Array", 5) == 0 || strncmp(str, "Struct", 6) == 0 ||
		strncmp(str, "Map", 3) == 0)
		bad_tecton_type(column, str, strlen(str), "malformed type");

	/* A PostgreSQL type name, parsed by the type-name grammar only. */
	parseTypeString(str, &typid, &typmod, true);
	if (!OidIsValid(typid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("column \"%s\": type \"%s\" does not exist", column, str),
				 errhint("Tecton types are String, Int32, Int64, Float32, Float64, Bool, Timestamp, Array(T), Struct(name T, ...) and Map(String, T); PostgreSQL type names are accepted too.")));
	return spec_for_pg_type(typid, typmod, column);
}

/*
 * The Tecton name of a PostgreSQL type a column or a feature has (Int64
 * for bigint, Array(String) for text[]), or NULL when Tecton has none.
 */
static const char *
tecton_name(Oid typid)
{
	Oid			elem;

	switch (typid)
	{
		case TEXTOID:
			return "String";
		case INT4OID:
			return "Int32";
		case INT8OID:
			return "Int64";
		case FLOAT4OID:
			return "Float32";
		case FLOAT8OID:
			return "Float64";
		case BOOLOID:
			return "Bool";
		case TIMESTAMPTZOID:
			return "Timestamp";
	}
	elem = get_element_type(typid);
	if (OidIsValid(elem) && tecton_name(elem) != NULL)
		return psprintf("Array(%s)", tecton_name(elem));
	return NULL;
}

/* _tecton_type(type): pushsource.features.type's name of a type, or NULL */
PG_FUNCTION_INFO_V1(fs_tecton_type);
Datum
fs_tecton_type(PG_FUNCTION_ARGS)
{
	const char *name = tecton_name(PG_GETARG_OID(0));

	if (name == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(name));
}
