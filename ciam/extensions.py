"""Extension singletons, bound to the app in create_app()."""

from flask_limiter.util import get_remote_address
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from ciam.db import Base
from ciam.ratelimit import AppLimiter

db = SQLAlchemy(model_class=Base)
csrf = CSRFProtect()
limiter = AppLimiter(key_func=get_remote_address, default_limits=[])
