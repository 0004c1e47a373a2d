-- A journey's price in its parts (issue 9): base_fare - concession - discounts = fare.
--
-- concession: what the rider's category took off the full fare (0: none, or not known, as for a
-- fare set by a rule); transfer_discounts: [[name, amount], ...] taken off after it (a
-- transfer from a previous leg). Fare products come off after both (product_spend, discounts:
-- 0027_fare_products.sql), so the full fare is coalesce(product_spend, fare_amount) + concession
-- + the transfer discounts.
ALTER TABLE journeys
    ADD COLUMN concession integer NOT NULL DEFAULT 0 CHECK (concession >= 0),
    ADD COLUMN transfer_discounts jsonb;
