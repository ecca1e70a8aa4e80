"""The payout ledger: every money reward is an entry, scheduled (possibly N working days later, on a condition checked on the day), sent through the payment adapter, paid once."""
