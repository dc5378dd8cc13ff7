"""Extension singletons, bound to the app in create_app()."""

from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from ciam.db import Base
from ciam.ratelimit import limiter

db = SQLAlchemy(model_class=Base)
csrf = CSRFProtect()

__all__ = ["csrf", "db", "limiter"]
