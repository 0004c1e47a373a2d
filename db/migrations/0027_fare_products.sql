-- Fare products priced into journeys (issue 9, section 1).
--
-- product_spend: what the journey counted towards its rider's monthly products (the fare before
-- them), set once, when its products were priced in (so a retried charge prices nothing twice);
-- discounts: [[product, amount], ...] taken off the fare by them.
ALTER TABLE journeys
    ADD COLUMN product_spend integer CHECK (product_spend >= 0),
    ADD COLUMN discounts jsonb;

-- A rider's month of journeys under a product.
CREATE INDEX journeys_rider_month ON journeys (user_id, operator, coalesce(exit_at, entry_at))
    WHERE fare_amount IS NOT NULL;
