"""The argon2 library in use computes standard argon2id: `make install` may build it
from source for this CPU (scripts/argon2-for-this-cpu), and a build that hashed
differently would lock every existing account out."""

from __future__ import annotations

from argon2.low_level import Type, hash_secret

from ciam.accounts import passwords


def test_reference_vectors_of_phc_winner_argon2():
    # phc-winner-argon2 src/test.c, argon2id version 0x13 ("password", "somesalt").
    one_lane = hash_secret(
        b"password",
        b"somesalt",
        time_cost=2,
        memory_cost=65536,
        parallelism=1,
        hash_len=32,
        type=Type.ID,
        version=19,
    )
    assert one_lane == (
        b"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
    )


def test_a_hash_made_elsewhere_verifies_here():
    """A stored ciam hash (OWASP parameters) from the generic wheel verifies."""
    stored = (
        "$argon2id$v=19$m=19456,t=2,p=1$Q+zEeQ3flHnOXNE2vIBXEA"
        "$PhpVwIM+UENhQyyaSoQ5zS5AfAwB8zxcZMc8h+Jndhg"
    )
    assert passwords.verify_password(stored, "load test passphrase 7319")
    assert not passwords.verify_password(stored, "load test passphrase 7318")
