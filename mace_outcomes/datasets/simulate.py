def simulate_registry(*a, **k):
    raise NotImplementedError
