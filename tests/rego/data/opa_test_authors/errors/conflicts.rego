package authors.errors.conflicts

# two values for one input: OPA's eval_conflict_error, an ERROR for the tests that ask for it
tier := "gold" if input.premium

tier := "silver" if input.support

tier := "bronze" if not input.premium
