-- A cap on typed-document mismatches at check-in (issue 11). The desk may type the number of the
-- document a person shows, and is told match or mismatch: with the masked number on screen, a
-- desk trying numbers could recover the full one. An appointment's typed-document check locks
-- after 3 mismatches (409 document_check_locked, even for the right number); the count is
-- raised by one conditional UPDATE, so concurrent mismatches never pass the cap.
ALTER TABLE appointments ADD COLUMN document_mismatches integer NOT NULL DEFAULT 0
    CHECK (document_mismatches >= 0);
-- The audit log says which refusal a refused action got (document_mismatch, ...), not only
-- its status: null for an action answered without an error code.
ALTER TABLE audit_log ADD COLUMN code text;
