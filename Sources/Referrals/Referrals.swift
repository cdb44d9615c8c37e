// Referrals module.
