-- Large requests (base64 images and PDFs inline) are written to generations.messages before the
-- provider is called: compress new values with lz4, about a third faster to write than pglz.
-- A Postgres built without lz4 (or PGlite) keeps its default; existing rows are not rewritten.
DO $$
BEGIN
  ALTER TABLE "generations" ALTER COLUMN "messages" SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value OR undefined_object THEN
  RAISE NOTICE 'lz4 is not available here: generations.messages keeps the default compression';
END $$;
