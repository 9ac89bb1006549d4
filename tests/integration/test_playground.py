"""The playground page of ``sklstm serve``, in a real headless browser."""

import os
import re
import shutil
import time

import pytest

pytest.importorskip("starlette", reason="needs the serve extra")
pytest.importorskip("uvicorn", reason="needs the serve extra")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")

from live_server import running  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from sklstm.serving import create_app  # noqa: E402

KEY = "page-key"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def model(served_model):
    return served_model


def test_page_is_self_contained(model):
    # Everything inline: nothing to fetch, from the internet or elsewhere.
    app = create_app(model, model_name="tiny </script> model")
    with TestClient(app) as client:
        reply = client.get("/")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/html")
    html = reply.text
    assert "sklstm playground" in html
    assert not re.search(r"https?://|\b(?:src|href)\s*=|@import|url\(", html)
    # The model name cannot close the script element that carries it.
    assert html.count("</script>") == 2
    assert "tiny \\u003c/script> model" in html


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
        pytest.skip(
            "needs Debian's chromium and chromium-driver (apt-get install "
            f"chromium chromium-driver): {CHROMIUM} or {DRIVER} is missing"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium')}")
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def page(model, browser):
    """The playground of a live server with an API key: (browser, app)."""
    app = create_app(model, model_name="tiny", api_key=KEY, max_tokens_limit=100_000)
    with running(app) as url:
        browser.get(url + "/")
        yield browser, app


def _fill(driver, **fields):
    for name, value in fields.items():
        element = driver.find_element("id", name)
        element.clear()
        element.send_keys(str(value))


def _run(driver, timeout=120):
    """Click Generate; wait until the page says the request is over."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element("id", "generate").click()
    WebDriverWait(driver, timeout).until(
        lambda d: d.find_element("id", "output").get_attribute("data-done") == "true"
    )


def _text(driver, element_id):
    return driver.execute_script(
        "return document.getElementById(arguments[0]).textContent", element_id
    )


def test_playground_streams_the_seeded_completion(page, model):
    driver, _ = page
    assert "model: tiny" in _text(driver, "model-name")
    _fill(
        driver, prompt="the qu", max_tokens=60, temperature=0.9, top_k=5,
        seed=4, api_key=KEY, min_tokens=60,
    )  # fmt: skip
    _run(driver)
    expected = model.generate(
        "the qu", max_new_tokens=60, min_new_tokens=60, temperature=0.9, top_k=5,
        random_state=4,
    )  # fmt: skip
    assert _text(driver, "completion") == expected
    assert _text(driver, "echo") == "the qu"
    pieces = int(driver.find_element("id", "output").get_attribute("data-pieces"))
    assert pieces > 2  # shown piece by piece as the server sent them
    assert _text(driver, "status").startswith("finished: length")
    assert "60 tokens" in _text(driver, "status")


def test_playground_shows_the_servers_error(page):
    driver, _ = page
    _fill(driver, prompt="the ", max_tokens=10, api_key="wrong", min_tokens=0)
    _run(driver)
    status = driver.find_element("id", "status")
    assert status.text == "Incorrect API key provided."
    assert status.get_attribute("class") == "error"


def test_stop_button_ends_the_generation_on_the_server(page):
    driver, app = page
    batcher = app.state.service.batcher
    _fill(driver, prompt="the ", max_tokens=100_000, min_tokens=100_000, api_key=KEY)
    driver.find_element("id", "generate").click()
    deadline = time.monotonic() + 120
    while _text(driver, "completion") == "":
        assert time.monotonic() < deadline, "nothing was generated"
        time.sleep(0.05)
    driver.find_element("id", "stop").click()
    deadline = time.monotonic() + 60
    while _text(driver, "status") != "stopped" or any(batcher._slots):
        assert time.monotonic() < deadline, "the generation did not stop"
        time.sleep(0.05)
    assert batcher.calls < 100_000 // 8 // 2
