"""The support console (/ops/): support engineers find anyone, across organizations,
and act on their account and memberships. Pages in views.py, services beside it."""
