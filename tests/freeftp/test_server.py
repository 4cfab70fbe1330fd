"""The FTP server against the database: ftplib on a real server on a free port, real files in tmp_path."""
import ftplib
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import update
from werkzeug.security import generate_password_hash

from app.billing.models import SubscriptionFreeze
from app.clients.models import Subscription
from app.extensions import db
from app.freeftp.models import FreeFtpAccount
from tests.factories import make_client, make_service, make_subscription
from tests.freeftp.conftest import configure, connect

PASSWORD = "парола-за-ftp-1"


def _account(app, username="gosho", active=True, confirmed=True):
    with app.app_context():
        account = FreeFtpAccount(username=username, password_hash=generate_password_hash(PASSWORD),
                                 email=f"{username}@example.bg", active=active, email_confirmed=confirmed)
        db.session.add(account)
        db.session.commit()
        return account.id


def _subscription(app, username="firma-ftp", status="active"):
    with app.app_context():
        client = make_client(None, "Фирма ООД")
        service = make_service(f"FTP хостинг {username}", username_type="ftp")
        return make_subscription(client, service, status=status, username=username, password=PASSWORD).id


def _download(ftp, name):
    buffer = io.BytesIO()
    ftp.retrbinary(f"RETR {name}", buffer.write)
    return buffer.getvalue()


def test_a_registered_account_reads_the_public_tree_and_cannot_write(app, settings, ftp_server):
    public, _homes = settings
    (public / "Филми").mkdir()
    (public / "Филми" / "Под игото.mkv").write_bytes(b"x" * 5000)
    account_id = _account(app)
    ftp = connect(ftp_server, "gosho", PASSWORD)
    assert "Филми" in ftp.nlst()
    ftp.cwd("Филми")
    assert _download(ftp, "Под игото.mkv") == b"x" * 5000
    with pytest.raises(ftplib.error_perm, match="550"):
        ftp.storbinary("STOR качено.txt", io.BytesIO(b"hello"))
    with pytest.raises(ftplib.error_perm, match="550"):
        ftp.delete("Под игото.mkv")
    ftp.quit()
    assert not (public / "Филми" / "качено.txt").exists()
    with app.app_context():
        account = db.session.get(FreeFtpAccount, account_id)
        assert account.last_login_at is not None and account.last_login_from == "127.0.0.1"
        assert account.bytes_downloaded == 5000 and account.logins == 1


def test_an_ftp_client_reads_the_servers_replies_in_bulgarian_and_still_understands_them(app, settings, ftp_server):
    public, _homes = settings
    (public / "Музика").mkdir()
    (public / "Музика" / "песен.mp3").write_bytes(b"m" * 300)
    _account(app)
    ftp = ftplib.FTP(timeout=10, encoding="utf-8")
    ftp.connect("127.0.0.1", ftp_server)
    assert ftp.sendcmd("USER gosho") == "331 Потребителското име е прието; въведете паролата."
    assert ftp.sendcmd(f"PASS {PASSWORD}").startswith("230 ")
    assert ftp.sendcmd("TYPE I") == "200 Двоичен режим."
    # What a client parses is left as it is: the quoted path, the passive port, the features.
    ftp.cwd("Музика")
    assert ftp.pwd() == "/Музика"
    assert ftp.sendcmd("PWD") == '257 "/Музика" е текущата папка.'
    assert "MLST" in ftp.sendcmd("FEAT")
    assert ftp.retrbinary("RETR песен.mp3", io.BytesIO().write) == "226 Прехвърлянето завърши."
    with pytest.raises(ftplib.error_perm) as missing:
        ftp.retrbinary("RETR няма-го.mp3", io.BytesIO().write)
    assert str(missing.value) == "550 Няма такъв файл или папка."
    with pytest.raises(ftplib.error_perm) as no_size:
        ftp.size("няма-го.mp3")
    assert str(no_size.value) == "550 /Музика/няма-го.mp3 не може да се изтегли."
    with pytest.raises(ftplib.error_perm) as refused:
        ftp.mkd("нова")
    assert str(refused.value) == "550 Нямате право на това тук."
    with pytest.raises(ftplib.error_perm) as unknown:
        ftp.sendcmd("XYZZY")
    assert str(unknown.value) == '500 Непозната команда "XYZZY".'
    ftp.quit()


def test_a_wrong_password_an_unconfirmed_and_a_disabled_account_get_530(app, settings, ftp_server):
    configure(app, ftp_root=str(settings[0]), confirm_email=True)
    _account(app, "gosho")
    _account(app, "pending", confirmed=False)
    _account(app, "stopped", active=False)
    for username, password in (("gosho", "грешна"), ("pending", PASSWORD), ("stopped", PASSWORD),
                               ("nobody", PASSWORD)):
        with pytest.raises(ftplib.error_perm, match="530"):
            connect(ftp_server, username, password)
    connect(ftp_server, "gosho", PASSWORD).quit()


def test_disabling_an_account_ends_its_open_session_at_the_next_command(app, settings, ftp_server, admin):
    (settings[0] / "readme.txt").write_text("здравей")
    account_id = _account(app)
    ftp = connect(ftp_server, "gosho", PASSWORD)
    assert ftp.nlst() == ["readme.txt"]
    # The office disables it in the panel.
    response = admin.submit(f"/freeftp/accounts/active/{account_id}", {"active": "0"},
                            form_url=f"/freeftp/accounts/show/{account_id}")
    assert response.status_code == 302
    with pytest.raises(ftplib.error_perm, match="530"):
        ftp.nlst()
    with pytest.raises(ftplib.error_perm, match="530"):
        connect(ftp_server, "gosho", PASSWORD)


def test_freeftp_off_refuses_registered_accounts(app, settings, ftp_server):
    _account(app)
    configure(app, ftp_root=str(settings[0]), enabled=False)
    with pytest.raises(ftplib.error_perm, match="530"):
        connect(ftp_server, "gosho", PASSWORD)


def test_an_account_has_at_most_the_sessions_the_settings_allow(app, settings, ftp_server):
    configure(app, ftp_root=str(settings[0]), max_sessions=1)
    _account(app)
    first = connect(ftp_server, "gosho", PASSWORD)
    with pytest.raises(ftplib.error_perm, match="530"):
        connect(ftp_server, "gosho", PASSWORD)
    first.quit()
    connect(ftp_server, "gosho", PASSWORD).quit()


def _store_past_the_quota(ftp, name, data):
    """STOR as a client sees it when the server stops reading at the quota: the data channel may be
    reset under the client's feet (ftplib's storbinary then raises that instead of the reply), and the
    server's answer is read from the control channel."""
    ftp.voidcmd("TYPE I")
    with ftp.transfercmd(f"STOR {name}") as data_channel:
        try:
            data_channel.sendall(data)
        except (ConnectionResetError, BrokenPipeError):
            pass
    ftp.voidresp()


def test_an_ftp_subscription_writes_only_in_its_home_and_within_its_quota(app, settings, ftp_server):
    public, homes = settings
    (public / "public.txt").write_text("общо")
    configure(app, ftp_root=str(public), homes_root=str(homes), home_quota_mb=1)
    _subscription(app)
    ftp = connect(ftp_server, "firma-ftp", PASSWORD)
    ftp.storbinary("STOR отчет.pdf", io.BytesIO(b"a" * 600_000))
    ftp.mkd("архив")
    assert (homes / "firma-ftp" / "отчет.pdf").stat().st_size == 600_000
    assert (homes / "firma-ftp" / "архив").is_dir()
    # Its root is its home: the public tree and the other homes are out of reach.
    ftp.cwd("..")
    assert ftp.pwd() == "/"
    assert "public.txt" not in ftp.nlst()
    with pytest.raises(ftplib.error_perm, match="550"):
        ftp.cwd("../../pub")
    # 600 KB + 600 KB is more than the 1 MB quota: refused, and the partial file is gone.
    with pytest.raises(ftplib.error_perm, match="552"):
        _store_past_the_quota(ftp, "втори.pdf", b"b" * 600_000)
    assert not (homes / "firma-ftp" / "втори.pdf").exists()
    # Replacing a file counts its new size only.
    ftp.storbinary("STOR отчет.pdf", io.BytesIO(b"c" * 900_000))
    assert (homes / "firma-ftp" / "отчет.pdf").stat().st_size == 900_000
    ftp.quit()


def test_a_suspended_or_frozen_ftp_subscription_is_refused_also_in_an_open_session(app, settings, ftp_server):
    subscription_id = _subscription(app)
    _subscription(app, "spryan", status="suspended")
    with pytest.raises(ftplib.error_perm, match="530"):
        connect(ftp_server, "spryan", PASSWORD)
    ftp = connect(ftp_server, "firma-ftp", PASSWORD)
    ftp.nlst()
    with app.app_context():
        db.session.execute(update(Subscription).where(Subscription.id == subscription_id).values(status="suspended"))
        db.session.commit()
    with pytest.raises(ftplib.error_perm, match="530"):
        ftp.nlst()
    with app.app_context():
        db.session.execute(update(Subscription).where(Subscription.id == subscription_id).values(status="active"))
        subscription = db.session.get(Subscription, subscription_id)
        today = date.today()
        db.session.add(SubscriptionFreeze(subscription=subscription, client_id=subscription.client_id,
                                          starts_on=today - timedelta(days=1), ends_on=today + timedelta(days=5),
                                          last_day=today + timedelta(days=5), reason="Ваканция"))
        db.session.commit()
    with pytest.raises(ftplib.error_perm, match="530"):
        connect(ftp_server, "firma-ftp", PASSWORD)


def test_a_subscription_of_another_kind_is_no_ftp_login(app, settings, ftp_server):
    with app.app_context():
        client = make_client(None, "Иван Иванов")
        service = make_service("Интернет 100", username_type="radius")
        make_subscription(client, service, username="ivan-radius", password=PASSWORD)
    with pytest.raises(ftplib.error_perm, match="530"):
        connect(ftp_server, "ivan-radius", PASSWORD)


def test_ftps_when_a_certificate_is_configured(app, settings, monkeypatch, tmp_path):
    import ssl
    import subprocess
    import threading
    import time

    from app.freeftp.server import FreeFtpServer

    cert, key = tmp_path / "ftp.crt", tmp_path / "ftp.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    monkeypatch.setitem(app.config, "FREEFTP_TLS_CERT", str(cert))
    monkeypatch.setitem(app.config, "FREEFTP_TLS_KEY", str(key))
    monkeypatch.setitem(app.config, "FREEFTP_PASSIVE_PORTS", None)
    configure(app, ftp_root=str(settings[0]), download_kbps=1000)
    (settings[0] / "таен.txt").write_bytes(b"secret")
    (settings[0] / "голям.iso").write_bytes(b"z" * 500 * 1024)
    _account(app)
    server = FreeFtpServer(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        ftp = ftplib.FTP_TLS(context=context, timeout=10, encoding="utf-8")
        ftp.connect("127.0.0.1", server.address[1])
        ftp.login("gosho", PASSWORD)  # AUTH TLS first: the password travels encrypted
        ftp.prot_p()
        assert _download(ftp, "таен.txt") == b"secret"
        started = time.monotonic()  # paced through TLS too: half a second at 1000 KB/s
        assert len(_download(ftp, "голям.iso")) == 500 * 1024
        assert 0.45 <= time.monotonic() - started <= 0.75
        ftp.quit()
    finally:
        server.close()
        thread.join(5)


@pytest.mark.parametrize("kbps", [1000, 200])
def test_a_registered_accounts_download_holds_the_settings_speed_within_ten_percent(app, settings, ftp_server,
                                                                                    kbps):
    """The speed an FTP client measures (bytes over the RETR's wall time) is the limit's, give or take 10 %."""
    import time

    configure(app, ftp_root=str(settings[0]), download_kbps=kbps)
    size = kbps * 1024 * 2  # two seconds' worth
    (settings[0] / "голям.iso").write_bytes(b"z" * size)
    _account(app)
    ftp = connect(ftp_server, "gosho", PASSWORD)
    started = time.monotonic()
    assert len(_download(ftp, "голям.iso")) == size
    measured = size / 1024 / (time.monotonic() - started)
    ftp.quit()
    assert 0.9 * kbps <= measured <= 1.1 * kbps, f"{measured:.0f} KB/s for a limit of {kbps} KB/s"
