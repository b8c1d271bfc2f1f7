-- Runs once, when a container initialises an empty data folder, in the POSTGRES_DB database.
-- Only server-side defaults live here; tables, functions and triggers come from `abdb migrate`.
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET timezone TO %L', current_database(), 'UTC');
END
$$;
