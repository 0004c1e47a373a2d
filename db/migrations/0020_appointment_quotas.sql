-- Quotas per department and person (issue 11): an appointment records whose quota it counts
-- against (the service's department, by default its agency) and who the person is: the keyed
-- fingerprint of the applicant's document (`doc:<hex>`), or the account when none was given.
-- Bookers of one department and person take an advisory lock (lock_person), then count.
ALTER TABLE appointments ADD COLUMN department text;
ALTER TABLE appointments ADD COLUMN person_key text;
CREATE INDEX appointments_quota ON appointments (department, person_key, local_date)
    WHERE status NOT IN ('cancelled', 'rescheduled');
