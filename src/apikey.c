/*
 * apikey.c
 *		API keys of the HTTP gateway, and the role a request runs as.
 *
 * fs_create_api_key(role, description) makes a random key, shows it once
 * and keeps only its SHA-256 (the same digest as SQL's sha256()) in
 * pushsource.api_key_catalog, written as the extension's owner: no role
 * writes that table directly.  A caller may make a key only for a role it
 * could SET ROLE to itself, so a key never carries more than its maker has.
 *
 * ps_api_key_role() turns a key into its role.  Keys are looked up by
 * digest, cached per backend, and the cache is dropped whenever the table
 * changes (its statement trigger sends a relcache invalidation, as the
 * feature catalog's does), so a revoked key is refused on its next request
 * in every backend.
 */
#include "pushsource.h"
#include "catalog_columns.h"

#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#define KEY_PREFIX "psk_"
#define KEY_RANDOM_BYTES 24		/* 192 bits, written as 48 hex digits */
#define KEY_SHOWN_CHARS 12		/* "psk_" and 8 digits: how listings name a key */
#define KEY_CACHE_MAX 10000

typedef struct KeyEntry
{
	uint8		digest[PG_SHA256_DIGEST_LENGTH];	/* hash key */
	Oid			role;
	int64		id;
	char	   *role_name;		/* in TopMemoryContext; the role's name when the key was made */
} KeyEntry;

static HTAB *key_cache = NULL;
static Oid	key_relid = InvalidOid;
static SPIPlanPtr lookup_plan = NULL;
static bool lookup_plan_stale = false;

static void
key_cache_reset(void)
{
	if (key_cache != NULL)
	{
		HASH_SEQ_STATUS st;
		KeyEntry   *e;

		hash_seq_init(&st, key_cache);
		while ((e = hash_seq_search(&st)) != NULL)
			pfree(e->role_name);
		hash_destroy(key_cache);
	}
	key_cache = NULL;
}

static void
key_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == key_relid)
	{
		key_cache_reset();
		key_relid = InvalidOid;
		/* its text names the table's schema, which an update may change */
		lookup_plan_stale = true;
	}
}

static void
key_cache_create(void)
{
	HASHCTL		ctl;

	ctl.keysize = PG_SHA256_DIGEST_LENGTH;
	ctl.entrysize = sizeof(KeyEntry);
	ctl.hcxt = TopMemoryContext;
	key_cache = hash_create("pushsource API keys", 64, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

void
ps_apikey_init(void)
{
	CacheRegisterRelcacheCallback(key_relcache_callback, (Datum) 0);
}

static void
digest_of(const char *key, uint8 *digest)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) key, strlen(key)) < 0 ||
		pg_cryptohash_final(ctx, digest, PG_SHA256_DIGEST_LENGTH) < 0)
	{
		pg_cryptohash_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not compute the SHA-256 digest of an API key")));
	}
	pg_cryptohash_free(ctx);
}

static bytea *
digest_bytea(const uint8 *digest)
{
	bytea	   *b = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);

	SET_VARSIZE(b, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	memcpy(VARDATA(b), digest, PG_SHA256_DIGEST_LENGTH);
	return b;
}

/* May the current user act as role (SET ROLE to it)?  Else 42501. */
static void
check_may_act_as(Oid role, const char *what)
{
	if (!is_member_of_role(GetUserId(), role))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s for role \"%s\"", what,
						GetUserNameFromId(role, false)),
				 errdetail("A key acts as its role: only a member of role \"%s\" may make one for it.",
						   GetUserNameFromId(role, false))));
}

/*
 * fs_create_api_key(role regrole, description text) returns text
 */
PG_FUNCTION_INFO_V1(fs_create_api_key);
Datum
fs_create_api_key(PG_FUNCTION_ARGS)
{
	Oid			role;
	char	   *description;
	uint8		random[KEY_RANDOM_BYTES];
	StringInfoData key;
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	Oid			save_userid;
	int			save_sec;
	int			spi_nest;
	Oid			argtypes[6] = {REGROLEOID, TEXTOID, TEXTOID, BYTEAOID, REGROLEOID, NAMEOID};
	Datum		args[6];

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the role of an API key must not be null")));
	role = PG_GETARG_OID(0);
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role with OID %u does not exist", role)));
	if (role == BOOTSTRAP_SUPERUSERID || superuser_arg(role))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("an API key may not act as superuser \"%s\"", GetUserNameFromId(role, false)),
				 errhint("Make a key for a role with only the grants its clients need, such as pushsource_writer or pushsource_reader.")));
	check_may_act_as(role, "create an API key");
	description = PG_ARGISNULL(1) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(1));

	if (!pg_strong_random(random, sizeof(random)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random bytes for an API key")));
	initStringInfo(&key);
	appendStringInfoString(&key, KEY_PREFIX);
	for (int i = 0; i < KEY_RANDOM_BYTES; i++)
		appendStringInfo(&key, "%02x", random[i]);
	digest_of(key.data, digest);

	args[0] = ObjectIdGetDatum(role);
	args[1] = CStringGetTextDatum(description);
	args[2] = PointerGetDatum(cstring_to_text_with_len(key.data, KEY_SHOWN_CHARS));
	args[3] = PointerGetDatum(digest_bytea(digest));
	args[4] = ObjectIdGetDatum(GetUserId());
	args[5] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(role, false)));
	/* the catalog is written as the extension's owner, never by its callers */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(ps_extension_owner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	spi_nest = ps_spi_connect();
	if (SPI_execute_with_args(psprintf("INSERT INTO %s.api_key_catalog"
							  " (role, description, key_prefix, key_hash, created_by, role_name)"
							  " VALUES ($1, $2, $3, $4, $5, $6)", ps_internal_schema()),
							  6, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not store an API key");
	ps_spi_finish(spi_nest);
	SetUserIdAndSecContext(save_userid, save_sec);
	PG_RETURN_TEXT_P(cstring_to_text(key.data));
}

/*
 * fs_revoke_api_key(key_id bigint) returns boolean: true when the key was
 * in use and is now revoked, false when it already was.
 */
PG_FUNCTION_INFO_V1(fs_revoke_api_key);
Datum
fs_revoke_api_key(PG_FUNCTION_ARGS)
{
	int64		id;
	Oid			save_userid;
	int			save_sec;
	int			spi_nest;
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1];
	bool		revoked;
	bool		isnull;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the id of the API key to revoke must not be null")));
	id = PG_GETARG_INT64(0);
	args[0] = Int64GetDatum(id);
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(ps_extension_owner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	spi_nest = ps_spi_connect();
	if (SPI_execute_with_args(psprintf("SELECT revoked_at IS NOT NULL FROM %s.api_key_catalog"
							  " WHERE id OPERATOR(pg_catalog.=) $1 FOR UPDATE", ps_internal_schema()),
							  1, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read API key " INT64_FORMAT, id);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("API key " INT64_FORMAT " does not exist", id),
				 errhint("Keys are listed in pushsource.api_keys.")));
	revoked = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (!revoked &&
		SPI_execute_with_args(psprintf("UPDATE %s.api_key_catalog SET revoked_at = pg_catalog.now()"
							  " WHERE id OPERATOR(pg_catalog.=) $1", ps_internal_schema()),
							  1, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not revoke API key " INT64_FORMAT, id);
	ps_spi_finish(spi_nest);
	SetUserIdAndSecContext(save_userid, save_sec);
	PG_RETURN_BOOL(!revoked);
}

/* The key's catalog row, as the extension's owner: false when unknown. */
static bool
lookup_key(const uint8 *digest, Oid *role, int64 *id, bool *revoked, char **role_name)
{
	Oid			save_userid;
	int			save_sec;
	int			spi_nest;
	Datum		args[1];
	bool		found = false;
	MemoryContext outer = CurrentMemoryContext;

	args[0] = PointerGetDatum(digest_bytea(digest));
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(ps_extension_owner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	spi_nest = ps_spi_connect();
	if (lookup_plan != NULL && lookup_plan_stale)
	{
		SPI_freeplan(lookup_plan);
		lookup_plan = NULL;
	}
	lookup_plan_stale = false;
	if (lookup_plan == NULL)
	{
		Oid			argtypes[1] = {BYTEAOID};
		SPIPlanPtr	plan = SPI_prepare(psprintf(API_KEY_SELECT " WHERE key_hash OPERATOR(pg_catalog.=) $1", ps_internal_schema()),
									   1, argtypes);

		if (plan == NULL)
			elog(ERROR, "could not prepare the API key lookup: %s",
				 SPI_result_code_string(SPI_result));
		/*
		 * Kept for the backend's life, not with the feature catalog's plans
		 * (ps_keep_plan), which are freed whenever that catalog changes.
		 */
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		lookup_plan = plan;
	}
	/*
	 * Not read-only: a fresh snapshot, taken after the lock that delivers
	 * the invalidations, so a key revoked since the statement began is
	 * seen revoked (and never cached as valid).
	 */
	if (SPI_execute_plan(lookup_plan, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up an API key");
	if (SPI_processed > 0)
	{
		bool		isnull;
		HeapTuple	tup = SPI_tuptable->vals[0];

		*role = DatumGetObjectId(SPI_getbinval(tup, SPI_tuptable->tupdesc, Anum_api_key_role, &isnull));
		*id = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, Anum_api_key_id, &isnull));
		*revoked = DatumGetBool(SPI_getbinval(tup, SPI_tuptable->tupdesc, Anum_api_key_revoked, &isnull));
		*role_name = MemoryContextStrdup(outer, SPI_getvalue(tup, SPI_tuptable->tupdesc, Anum_api_key_role_name));
		found = true;
	}
	ps_spi_finish(spi_nest);
	SetUserIdAndSecContext(save_userid, save_sec);
	return found;
}

/*
 * The role an API key acts as.  Refused (28000) when the key is missing,
 * unknown or revoked, or its role is gone; 42501 when the session's user
 * (the gateway's login) could not SET ROLE to it.
 */
Oid
ps_api_key_role(const char *key)
{
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	KeyEntry   *e;
	bool		found;
	Oid			role;
	int64		id;
	char	   *role_name;

	if (key == NULL || key[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("missing API key"),
				 errhint("Send the header Authorization: Tecton-key <key> (or Bearer <key>); keys come from fs_create_api_key().")));
	digest_of(key, digest);
	/*
	 * An entry point: a catalog generation made stale (by an update that
	 * moved the key table, say) must not name the schema below.
	 */
	ps_catalog_refresh();
	if (!OidIsValid(key_relid))
	{
		key_cache_reset();
		key_relid = get_relname_relid("api_key_catalog", get_namespace_oid(ps_internal_schema(), false));
	}
	if (key_cache == NULL)
		key_cache_create();
	/*
	 * Invalidation may run at any lock taken below and destroy the cache:
	 * copy what an entry holds before going on.
	 */
	e = hash_search(key_cache, digest, HASH_FIND, NULL);
	if (e != NULL)
	{
		role = e->role;
		id = e->id;
		role_name = pstrdup(e->role_name);
	}
	else
	{
		bool		revoked;
		char	   *kept;

		if (!lookup_key(digest, &role, &id, &revoked, &kept))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("unknown API key"),
					 errhint("Keys come from fs_create_api_key(); only their digest is kept, so a lost key cannot be shown again.")));
		if (revoked)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("API key " INT64_FORMAT " has been revoked", id)));
		/* unknown keys are not cached: a flood of them must not grow memory */
		if (key_cache != NULL && hash_get_num_entries(key_cache) >= KEY_CACHE_MAX)
			key_cache_reset();
		if (key_cache == NULL)
			key_cache_create();
		e = hash_search(key_cache, digest, HASH_ENTER, &found);
		e->role = role;
		e->id = id;
		e->role_name = MemoryContextStrdup(TopMemoryContext, kept);
		role_name = kept;
	}
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role)) ||
		strcmp(GetUserNameFromId(role, false), role_name) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the role of API key " INT64_FORMAT " no longer exists (it was \"%s\")", id, role_name),
				 errhint("Revoke the key with fs_revoke_api_key(" INT64_FORMAT ") and make a new one.", id)));
	if (superuser_arg(role))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("API key " INT64_FORMAT " acts as role \"%s\", which is now a superuser", id,
						GetUserNameFromId(role, false)),
				 errhint("No request runs as a superuser: revoke the key, or make the role an ordinary one again.")));
	if (!is_member_of_role(GetSessionUserId(), role))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the gateway's login role \"%s\" may not act as role \"%s\" of API key " INT64_FORMAT,
						GetUserNameFromId(GetSessionUserId(), false),
						GetUserNameFromId(role, false), id),
				 errhint("GRANT \"%s\" TO \"%s\";", GetUserNameFromId(role, false),
						 GetUserNameFromId(GetSessionUserId(), false))));
	return role;
}
