"""Extension singletons, bound to the app in create_app()."""

from typing import TYPE_CHECKING

from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from ciam.db import Base
from ciam.ratelimit import limiter

db = SQLAlchemy(model_class=Base)
if TYPE_CHECKING:
    # db.Model is a class Flask-SQLAlchemy builds at run time from Base (adding the
    # query property and table naming); a type checker cannot subclass a variable, so
    # it sees Base itself. Models subclass `Model`; at run time it is db.Model.
    Model = Base
else:
    Model = db.Model
csrf = CSRFProtect()

__all__ = ["Model", "csrf", "db", "limiter"]
