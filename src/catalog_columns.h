/*
 * catalog_columns.h
 *		The catalog rows the C code reads: for each, the one select list it
 *		reads them with and the position of every column in that list, named
 *		once here (as pg_cron's cron_job.h names the columns of cron.job).
 *		A query over a catalog table is built from these and its fields are
 *		read by these names, never by a bare number.  Each select list is a
 *		format: its %s is the schema of the catalog, ps_internal_schema().
 */
#ifndef CATALOG_COLUMNS_H
#define CATALOG_COLUMNS_H

/* pushsource.source_catalog: one push source */
#define SOURCE_CATALOG_SELECT \
	"SELECT name, source_table::oid, column_names, column_types, timestamp_field, log_offline," \
	" batch_table::oid" \
	" FROM %s.source_catalog"
#define Anum_source_name			1
#define Anum_source_relid			2
#define Anum_source_column_names	3
#define Anum_source_column_types	4
#define Anum_source_timestamp_field 5
#define Anum_source_log_offline		6
#define Anum_source_batch_relid		7

/* pushsource.view_catalog: the feature views of a source */
#define VIEW_CATALOG_SELECT \
	"SELECT v.name, v.join_keys, v.value_columns, v.ttl, v.online, v.offline," \
	" v.feature_start_time, v.online_table::oid, v.offline_table::oid," \
	" v.aggregations, v.aggregation_interval" \
	" FROM %s.view_catalog v"
#define Anum_view_name				1
#define Anum_view_join_keys			2
#define Anum_view_value_columns		3
#define Anum_view_ttl				4
#define Anum_view_online			5
#define Anum_view_offline			6
#define Anum_view_feature_start_time 7
#define Anum_view_online_relid		8
#define Anum_view_offline_relid		9
#define Anum_view_aggregations		10
#define Anum_view_aggregation_interval 11

/* pushsource.service_feature: a service's views and their features, in order */
#define SERVICE_FEATURE_SELECT \
	"SELECT feature_view, array_agg(feature ORDER BY position)" \
	" FROM %s.service_feature"
#define Anum_service_view			1
#define Anum_service_features		2

/* pushsource.api_key_catalog: the key of a digest */
#define API_KEY_SELECT \
	"SELECT role, id, revoked_at IS NOT NULL, role_name::pg_catalog.text" \
	" FROM %s.api_key_catalog"
#define Anum_api_key_role			1
#define Anum_api_key_id				2
#define Anum_api_key_revoked		3
#define Anum_api_key_role_name		4

#endif							/* CATALOG_COLUMNS_H */
