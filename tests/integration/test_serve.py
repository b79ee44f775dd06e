"""plait serve in headless Chromium: upload an image, ask, see the answer; speech; refusals; served paths."""

from __future__ import annotations

import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_run import TinyRun, tiny_run

from plait.cli import main
from plait.serve.app import build_app, launch
from plait.serve.session import LoadedRun, Session, Settings
from plait.serve.speech import make_transcriber

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="chromium / chromium-driver are not installed (scripts/system-deps.sh installs them as root)")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1400,1000"]
MAX_UPLOAD = 200_000


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The tiny run and a copy of it under another name, to be shown side by side."""
    run = tiny_run(tmp_path_factory)
    twin = run.path.parent / (run.path.name + "-twin")
    if not twin.exists():
        shutil.copytree(run.path, twin)
    return [run.path, twin]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    return tiny_run(tmp_path_factory)


@pytest.fixture(scope="module")
def server(runs: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a free port of 127.0.0.1, its uploads kept under the test's tmp folder."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_TEMP_DIR", str(tmp_path_factory.mktemp("gradio-uploads")))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        demo = build_app([LoadedRun(p) for p in runs], lambda: make_transcriber(None))
        url = launch(demo, "127.0.0.1", port, MAX_UPLOAD, block=False)
        try:
            yield url.rstrip("/")
        finally:
            demo.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(browser, server: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server)
    wait = WebDriverWait(browser, 90)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#media input[type=file]"))
    return wait


def text_of(browser, css: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.text for e in browser.find_elements(By.CSS_SELECTOR, css)]


def notice(browser) -> str:
    return " ".join(text_of(browser, "#notice"))


def ask(browser, question: str) -> None:
    from selenium.webdriver.common.by import By

    box = browser.find_element(By.CSS_SELECTOR, "#question textarea")
    box.clear()
    box.send_keys(question)
    browser.find_element(By.ID, "send").click()


def test_upload_an_image_ask_and_see_both_runs_answer(server, browser, runs, data, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    loaded = LoadedRun(runs[0])
    session = Session(loaded, Settings(max_new_tokens=loaded.default_max_new_tokens()))
    session.attach(data.image(1))
    expected = session.answer("what shape is it?")
    assert expected

    wait = open_page(browser, server)
    cards = text_of(browser, "#card-0, #card-1")
    assert runs[0].name in cards[0] and runs[1].name in cards[1]
    assert "headline exact_match" in cards[0] and "test: exact_match" in cards[0]
    browser.find_element(By.CSS_SELECTOR, "#media input[type=file]").send_keys(str(data.image(1)))
    wait.until(lambda d: "attached test-000001.png" in notice(d))
    ask(browser, "what shape is it?")
    wait.until(lambda d: len(text_of(d, "#chat-1 [data-testid=bot]")) == 1)
    assert text_of(browser, "#chat-0 [data-testid=user]")[-1] == "what shape is it?"
    assert text_of(browser, "#chat-0 [data-testid=bot]") == [expected]
    assert text_of(browser, "#chat-1 [data-testid=bot]") == [expected]
    shot = tmp_path / "serve.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_spoken_question_is_shown_then_asked(server, browser, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/system-deps.sh installs it as root)")
    wav = tmp_path / "question.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "130", "-w", str(wav), "what color is the shape"], check=True)
    wait = open_page(browser, server)
    browser.find_element(By.CSS_SELECTOR, "#audio input[type=file]").send_keys(str(wav))
    wait.until(lambda d: "heard (pocketsphinx" in notice(d))
    heard = browser.find_element(By.CSS_SELECTOR, "#question textarea").get_attribute("value")
    assert heard and heard in notice(browser)
    browser.find_element(By.ID, "send").click()
    wait.until(lambda d: len(text_of(d, "#chat-1 [data-testid=bot]")) == 1)
    assert text_of(browser, "#chat-0 [data-testid=user]") == [heard]


def test_unusable_files_are_refused_with_a_message(server, browser, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"this is not a picture")
    wait = open_page(browser, server)
    browser.find_element(By.CSS_SELECTOR, "#media input[type=file]").send_keys(str(broken))
    wait.until(lambda d: "refused broken.png: cannot be used by this model (unreadable image" in notice(d))
    notes = tmp_path / "notes.txt"
    notes.write_text("not media")
    browser.find_element(By.CSS_SELECTOR, "#media input[type=file]").send_keys(str(notes))
    wait.until(lambda d: "Invalid file type: notes.txt" in d.find_element(By.TAG_NAME, "body").text)


def status(url: str, **request) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, **request)) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_only_uploads_are_served_and_large_uploads_refused(server, runs) -> None:
    assert server.startswith("http://127.0.0.1:")
    assert status(f"{server}/") == 200
    assert status(f"{server}/gradio_api/file=/etc/passwd") == 403
    assert status(f"{server}/gradio_api/file={runs[0] / 'config.yaml'}") == 403
    boundary = "plaitboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + b"\0" * (MAX_UPLOAD + 1) + f"\r\n--{boundary}--\r\n".encode()
    assert status(f"{server}/gradio_api/upload", data=body, method="POST",
                  headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}) == 413


def test_serve_flags_are_checked_before_loading(tmp_path, capsys) -> None:
    from plait.cli import build_parser

    assert build_parser().parse_args(["serve", "RUN"]).host == "127.0.0.1"
    assert main(["serve", str(tmp_path), "--port", "70000"]) == 2
    assert "--port: 70000 is not a port" in capsys.readouterr().err
    assert main(["serve", str(tmp_path), str(tmp_path)]) == 2
    assert main(["serve", str(tmp_path), "--max-file-size", "huge"]) == 2
    assert "--max-file-size: 'huge' is not a size" in capsys.readouterr().err
    assert main(["serve", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
