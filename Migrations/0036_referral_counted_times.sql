-- Response times by time of record (the annual report's "time to respond"): when each referral
-- was on the record for its recipient, and when the recipient's first response and acceptance
-- count, by the rules its deadlines are judged by (DeadlineEvaluator.referralTimes,
-- docs/time-of-record.md). The report measured from the issuer's own `occurredAt`: an issuer that
-- dated a referral five weeks back made the recipient look five weeks slow (an attack pass).
-- Rows projected before this migration have NULLs until the live projector renders every case
-- again, which it does on its first batch after finding one (as for Migrations/0031's documents);
-- until then the report falls back to the stated times.
ALTER TABLE handoff.referrals
    ADD COLUMN issued_counted_at timestamptz,
    ADD COLUMN responded_counted_at timestamptz,
    ADD COLUMN accepted_counted_at timestamptz;
