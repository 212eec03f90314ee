-- Installs the extension once for the whole regression run; later files
-- create their own objects with names prefixed by their file's topic.
CREATE EXTENSION pushsource;
SELECT extname, extversion, extnamespace::regnamespace FROM pg_extension WHERE extname = 'pushsource';
SELECT rolname FROM pg_roles WHERE rolname LIKE 'pushsource\_%' ORDER BY rolname;
SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pushsource%' ORDER BY nspname;
-- both schemas are the extension's own (created by its script)
SELECT n.nspname FROM pg_depend d JOIN pg_namespace n ON n.oid = d.objid
 WHERE d.classid = 'pg_namespace'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pushsource')
 ORDER BY 1;
-- every function of the extension has a comment
SELECT p.proname FROM pg_proc p
 WHERE p.pronamespace = 'pushsource'::regnamespace
   AND obj_description(p.oid, 'pg_proc') IS NULL;
