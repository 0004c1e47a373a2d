-- The rider's fare category over time (issue 15 item 4, validity at scan time): an uploaded
-- offline tap is priced at the category its rider had at its `scanned_at`, not at its upload.
--
-- Only users.category (as it is now) was kept, so record_scans() priced a tap uploaded after the
-- identity provider verified a new category at the new one: a rider who turned 65 between an
-- offline ride and its upload rode free, one whose student concession ended paid full fare for a
-- ride taken as a student. Now every change is a row (since, category), written by a trigger on
-- users whatever writes the column (sign-in's verified attributes, an erasure's pseudonym), dated
-- by the row's `updated_at`: the service's clock, as the taps' scan times are. record_scans()
-- reads the latest row at or before an uploaded tap's scan time (an online scan is now: the
-- column). Riders from before this migration: their category as it is now, since their account
-- was made (what it was before is not known). The rows go with the users row.
CREATE TABLE user_categories (
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    since timestamptz NOT NULL,
    category text NOT NULL,
    PRIMARY KEY (user_id, since)
);

INSERT INTO user_categories (user_id, since, category) SELECT id, created_at, category FROM users;

CREATE FUNCTION keep_user_category() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.category IS DISTINCT FROM OLD.category THEN
        INSERT INTO user_categories (user_id, since, category)
        VALUES (NEW.id, NEW.updated_at, NEW.category)
        ON CONFLICT (user_id, since) DO UPDATE SET category = EXCLUDED.category;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER users_category_history AFTER INSERT OR UPDATE OF category ON users
    FOR EACH ROW EXECUTE FUNCTION keep_user_category();
