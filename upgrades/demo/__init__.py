"""The demo: the fleet `make run` seeds (fleet) and the OceanBase rpms it uploads, which tests use too (rpms).

A seeding layer: it creates through services and the package ingest, like an operator would."""
