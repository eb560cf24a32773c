"""Point live sessions at the sign-in backend's new dotted path (accounts.signin.backend)."""

from django.conf import settings
from django.db import migrations

OLD = "accounts.backends.CognitoBackend"
NEW = "accounts.signin.backend.CognitoBackend"
BACKEND_KEY = "_auth_user_backend"


def _repoint(old: str, new: str):
    """Return a migration function that rewrites the backend path stored in every session."""

    def run(apps, schema_editor):
        """Re-encode each session whose stored backend is `old`."""
        from importlib import import_module

        store = import_module(settings.SESSION_ENGINE).SessionStore()
        Session = apps.get_model("sessions", "Session")
        for session in Session.objects.iterator():
            data = store.decode(session.session_data)
            if data.get(BACKEND_KEY) == old:
                data[BACKEND_KEY] = new
                session.session_data = store.encode(data)
                session.save(update_fields=["session_data"])

    return run


class Migration(migrations.Migration):
    dependencies = [("sessions", "0001_initial"), ("accounts", "0006_sync_state_and_app_clients")]
    operations = [migrations.RunPython(_repoint(OLD, NEW), _repoint(NEW, OLD))]
