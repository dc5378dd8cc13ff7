"""Extension singletons, bound to the app in create_app()."""

from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from ciam.db import Base
from ciam.ratelimit import AppLimiter

db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
csrf = CSRFProtect()
limiter = AppLimiter(key_func=get_remote_address, default_limits=[])


def autocommit_first(statement, params=None):
    """Run one statement on its own autocommit connection and return its first row.

    For the hot paths (DESIGN §7) that need one read, or one single-row write, and no
    transaction: one database round trip instead of BEGIN, statement and COMMIT, and
    no ORM session. A write is committed when this returns, before any response.
    """
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        result = conn.execute(statement, params)
        return result.first() if result.returns_rows else None
