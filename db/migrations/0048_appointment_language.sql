-- The rider's language for the notices about an appointment (issue 11, review finding 7):
-- reminders, a desk closed over it, an agency refusing it. Kept at booking from the booking
-- request's Accept-Language (en, zh-Hant, zh-Hans, as the API negotiates it); a reschedule keeps
-- it unless its own request names one. Appointments booked before this have none (NULL): their
-- notices use the default language of the jurisdiction whose agency runs the centre (the first
-- of its `languages`: zh-Hant for Hong Kong and Macao, zh-Hans for Guangdong).
ALTER TABLE appointments ADD COLUMN language text
    CHECK (language IN ('en', 'zh-Hant', 'zh-Hans'));
