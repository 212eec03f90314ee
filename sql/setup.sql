-- Installs the extension once for the whole regression run; later files
-- create their own objects with names prefixed by their file's topic.
CREATE EXTENSION pushsource;
SELECT extname, extversion, extnamespace::regnamespace FROM pg_extension WHERE extname = 'pushsource';
SELECT rolname FROM pg_roles WHERE rolname LIKE 'pushsource\_%' ORDER BY rolname;
SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pushsource%' ORDER BY nspname;
-- every function of the extension has a comment
SELECT p.proname FROM pg_proc p
 WHERE p.pronamespace = 'pushsource'::regnamespace
   AND obj_description(p.oid, 'pg_proc') IS NULL;
