-- Exports built in the background (0012_personal_data): the language of the files they hold (.ics), and the
-- session that asked, which the access log names as the reader of numbers exported in clear.
ALTER TABLE data_exports ADD COLUMN language text NOT NULL DEFAULT 'en';
ALTER TABLE data_exports ADD COLUMN credential_id text NOT NULL DEFAULT '';
ALTER TABLE data_exports ALTER COLUMN credential_id DROP DEFAULT;
