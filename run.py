"""Start the admin panel on http://127.0.0.1:5000 (development server).

Without Redis this process also runs the nightly billing cycle
(app/billing/schedule.py), in a thread of its own.
"""
import os

from app import create_app
from app.billing.schedule import start_embedded

app = create_app()

if __name__ == "__main__":
    # The development server's reloader runs this file twice; the schedule belongs to the serving child.
    if os.environ.get("FLASK_DEBUG") != "1" or os.environ.get("WERKZEUG_RUN_MAIN") == "true":
        start_embedded(app)
    app.run(
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "5000")),
        debug=os.environ.get("FLASK_DEBUG") == "1",
    )
