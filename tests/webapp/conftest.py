from tests.payments.conftest import _fakestripe_server, fakestripe  # noqa: F401 - the fake Stripe server
