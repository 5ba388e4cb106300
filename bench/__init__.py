"""Benchmarks and bench-only seeding (`make bench`): nothing here is part of the product.

The product's apps never import this package; it imports them (it is at the top of the layers,
beside the views). Production settings can leave it out (`BENCH_APP=false`): the commands
`bench*` and `seed_bench` then do not exist.
"""
