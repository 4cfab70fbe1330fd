"""Start the admin panel on http://127.0.0.1:5000 (development server).

Without Redis this process also runs the nightly billing cycle
(app/billing/schedule.py), in a thread of its own; and the RADIUS server
(app/radius/server.py) on RADIUS_HOST:RADIUS_AUTH_PORT/RADIUS_ACCT_PORT
(127.0.0.1:11812/11813 by default) in another, unless RADIUS_EMBEDDED=0;
and the FTP server (app/freeftp/server.py) on FREEFTP_HOST:FREEFTP_PORT
(127.0.0.1:2121 by default) in a third, unless FREEFTP_EMBEDDED=0.
"""
import os

from app import create_app
from app.billing.schedule import start_embedded
from app.freeftp.server import start_embedded as start_embedded_ftp
from app.radius.server import start_embedded as start_embedded_radius

app = create_app()

if __name__ == "__main__":
    # The development server's reloader runs this file twice; the schedule belongs to the serving child.
    if os.environ.get("FLASK_DEBUG") != "1" or os.environ.get("WERKZEUG_RUN_MAIN") == "true":
        start_embedded(app)
        start_embedded_radius(app)
        start_embedded_ftp(app)
    app.run(
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "5000")),
        debug=os.environ.get("FLASK_DEBUG") == "1",
    )
