#!/usr/bin/env python3
"""The web UI in a real browser: headless Chromium driven by Selenium,
against a real 3-node cluster whose nodes run the Factorio stand-in.

The browser talks to a follower U; instances run on the other follower I;
L leads. The test:
  - logs in (keyboard: type the token, press Enter);
  - creates an instance in the form, assigns it to I on its page, starts it
    from the list with the keyboard (Tab to its Start button, Enter) and
    sees its status turn `running` without a reload (the page's marker
    survives: no navigation happened);
  - uploads a save and bans a user when the node offers those endpoints
    (otherwise it says SKIP and why);
  - kill -9 of the leader L: the UI keeps working through U (the leader
    card shows the new leader, a stop through the UI is seen live);
  - kill -9 of U itself: the UI says so and offers the surviving nodes;
    following the offer lands on another node, logged in, live;
  - accessibility basics on every page: every input, select and textarea
    has a label; the main actions are buttons reachable with Tab;
  - screenshots of every page go to $CLUSTERD_BUILD/web-screenshots/.
Measures page load (navigation start to the first page drawn with data),
time to the stream's first event, and the delay from an API write to the
row it adds appearing in the open page.

Exit 77 (ctest: skipped) when Chromium, chromedriver or Selenium is
missing: scripts/setup --test installs them.
"""
import json
import os
import shutil
import signal
import sys
import time
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "e2e", "cluster"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "e2e", "metrics"))
from cluster_util import BUILD, Cluster, Failed, check, log, run, wait_for  # noqa: E402
from metrics_util import form_with_standin  # noqa: E402

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select
except ImportError:
    print("SKIP: python3-selenium is not installed (scripts/setup --test)")
    sys.exit(77)

CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMEDRIVER or not CHROMIUM:
    print("SKIP: chromium and chromium-driver are not installed (scripts/setup --test)")
    sys.exit(77)

SHOTS = os.path.join(BUILD, "web-screenshots")
UI_WAIT_S = 60


def form(cl):
    form_with_standin(cl, 3, ports=10)
    wait_for(lambda: all(len([m for m in n.members()["members"]
                              if m["state"] == "alive" and m["http"]]) == 3
                         for n in cl.nodes), "every node to see three members with HTTP")


class UI:
    def __init__(self, tmp):
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--window-size=1280,1000", "--user-data-dir=" + os.path.join(tmp, "chromium")):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.d.set_page_load_timeout(60)

    def close(self):
        try:
            self.d.quit()
        except WebDriverException:
            pass

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def wait(self, pred, what, timeout=UI_WAIT_S):
        def ok():
            try:
                return pred()
            except WebDriverException:
                return None
        return wait_for(ok, what, timeout, interval=0.05)

    def find(self, css):
        els = self.d.find_elements(By.CSS_SELECTOR, css)
        return els[0] if els and els[0].is_displayed() else None

    def text(self, css):
        e = self.find(css)
        return e.text if e else ""

    def go(self, page):
        self.js("location.hash = arguments[0]", page)
        self.wait(lambda: self.js("return window.clusterdUI.S.page") == page.split("/")[1],
                  "page " + page)

    def shot(self, name):
        os.makedirs(SHOTS, exist_ok=True)
        path = os.path.join(SHOTS, name + ".png")
        self.d.save_screenshot(path)
        check(os.path.getsize(path) > 2000, "screenshot %s saved (%d bytes)" % (path, os.path.getsize(path)))

    def unlabelled(self):
        """Inputs, selects and textareas on the page without a label."""
        return self.js("""
          return Array.from(document.querySelectorAll('input, select, textarea'))
            .filter(e => e.type !== 'hidden' && e.offsetParent !== null)
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
            .map(e => e.outerHTML.slice(0, 80));""")

    def tab_to(self, pred_js, what, limit=80):
        """Presses Tab from the top of the page until pred_js(activeElement)
        holds; returns how many presses it took."""
        self.js("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
        body = self.d.find_element(By.TAG_NAME, "body")
        body.send_keys(Keys.TAB)
        for i in range(limit):
            if self.js("return (" + pred_js + ")(document.activeElement)"):
                return i + 1
            self.d.switch_to.active_element.send_keys(Keys.TAB)
        raise Failed("Tab never reached %s in %d presses" % (what, limit))


def api(node, method, path, body=None):
    st, _, data = node.req(method, path, body=json.dumps(body) if body is not None else None,
                           headers={"Content-Type": "application/json"} if body is not None else None)
    return st, (json.loads(data) if data and data[:1] in (b"{", b"[") else data)


def endpoint_exists(node, path):
    st, data = api(node, "GET", path)
    return not (st in (404, 405) and isinstance(data, dict) and
                str(data.get("error", "")).startswith(("no such endpoint", "no such resource",
                                                        "no such action", "method not")))


def a11y(ui, page):
    bad = ui.unlabelled()
    check(not bad, "%s: every input, select and textarea has a label (unlabelled: %s)" % (page, bad))


def main():
    with Cluster("web") as cl:
        ui = None
        try:
            form(cl)
            L = cl.wait_leader()
            U, I = [n for n in cl.nodes if n is not L]
            log("leader %s, the browser talks to %s, instances run on %s" % (L.name, U.name, I.name))
            ui = UI(cl.tmp)
            try:
                scenario(cl, ui, L, U, I)
            except Failed:
                os.makedirs(SHOTS, exist_ok=True)
                ui.d.save_screenshot(os.path.join(SHOTS, "FAILED.png"))
                log("at failure: url %s, toasts %r, banner %r, streams %r" % (
                    ui.d.current_url, ui.text("#toast"), ui.text("#banner"),
                    ui.js("return Object.keys(window.clusterdUI.S.streams)")))
                log("at failure: members %s" % ui.js("return JSON.stringify(window.clusterdUI.D.members)"))
                for e in ui.d.get_log("browser")[-20:]:
                    log("browser console: %s" % e.get("message"))
                raise
        finally:
            if ui:
                ui.close()
            # Stop the stand-ins: SIGTERM makes each live node stop its servers.
            for n in cl.alive():
                n.proc.send_signal(signal.SIGTERM)
            for n in cl.nodes:
                if n.proc is not None:
                    try:
                        n.proc.wait(timeout=60)
                    except Exception:  # noqa: BLE001 (close() kills it)
                        pass


def scenario(cl, ui, L, U, I):
    d = ui.d
    url = "http://%s/" % U.http

    # ---- log in ----
    d.get(url)
    ui.wait(lambda: ui.find("#token"), "the login form")
    a11y(ui, "login")
    check(d.switch_to.active_element.get_attribute("id") == "token", "the token field has the focus")
    ui.shot("01-login")
    d.switch_to.active_element.send_keys("not-a-token" + Keys.ENTER)
    ui.wait(lambda: "not valid" in ui.text("#login-form .err"), "a refused token to be refused")
    ui.find("#token").clear()
    ui.find("#token").send_keys(cl.admin_token + Keys.ENTER)
    ui.wait(lambda: ui.find("nav") and "live" in ui.text("#conn"), "login and a live stream")
    check(ui.js("return sessionStorage.getItem('clusterd_token')") == cl.admin_token,
          "the token is kept in sessionStorage")
    ui.wait(lambda: ui.text("#card-nodes .n") == "3 / 3", "the overview to show 3 of 3 nodes alive")
    ui.wait(lambda: ui.text("#card-leader .n") == (cl.leader() or L).name,
            "the overview to name the leader")
    check(len(d.find_elements(By.CSS_SELECTOR, "#ov-nodes tbody tr")) == 3, "the overview lists three nodes")
    a11y(ui, "overview")
    ui.shot("02-overview")

    # Page load, measured on a fresh load of the same tab (logged in).
    ui.go("#/overview")
    d.refresh()
    ui.wait(lambda: ui.js("return window.clusterdUI.metrics.ready !== null && window.clusterdUI.metrics.hello !== null"),
            "the reloaded page to draw and connect")
    m = ui.js("return window.clusterdUI.metrics")
    nav = ui.js("return performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")
    log("measure: page load: DOMContentLoaded %.0f ms, first page drawn with data %.0f ms, "
        "first event on the stream %.0f ms after navigation start" % (nav, m["ready"], m["hello"]))
    ui.js("window.__noReload = 'still here'")

    # Keyboard: the first Tab stop skips to the content; the pages are links
    # reached with Tab and opened with Enter.
    check(ui.tab_to("e => e && e.classList.contains('skip')", "the skip link") == 1,
          "the first Tab stop is 'Skip to content'")
    ui.tab_to("e => e && e.getAttribute('data-page') === 'nodes'", "the Nodes link")
    d.switch_to.active_element.send_keys(Keys.ENTER)
    ui.wait(lambda: ui.js("return window.clusterdUI.S.page") == "nodes", "Enter on the Nodes link opens it")

    # ---- nodes ----
    ui.go("#/nodes")
    ui.wait(lambda: len(d.find_elements(By.CSS_SELECTOR, "#nodes tbody tr")) == 3, "the nodes table")
    a11y(ui, "nodes")
    ui.shot("03-nodes")

    # ---- create, assign, start ----
    ui.go("#/instances")
    a11y(ui, "instances")
    ui.find("#new-name").send_keys("alpha")
    ui.find("#new-name").send_keys(Keys.ENTER)  # submits the form: keyboard only
    ui.wait(lambda: ui.find('tr[data-instance="alpha"]'), "alpha listed after the create (no reload)")
    check("unassigned" in ui.text('tr[data-instance="alpha"]'), "alpha starts unassigned")

    # Live update delay: an API write elsewhere -> its row in the open page.
    ui.js("""window.__seen = null; new MutationObserver((_, o) => {
        if (document.querySelector('tr[data-instance="beta"]')) { window.__seen = Date.now(); o.disconnect(); }
      }).observe(document.getElementById('main'), {childList: true, subtree: true});""")
    t_write = time.time() * 1000
    st, _ = api(L, "POST", "/api/v1/instances", {"name": "beta"})
    check(st == 201, "beta created through the API of %s" % L.name)
    ui.wait(lambda: ui.js("return window.__seen"), "beta's row to appear without a reload")
    live_ms = ui.js("return window.__seen") - t_write
    log("measure: time to a live update: API create on %s -> row in the page on %s: %.0f ms"
        % (L.name, U.name, live_ms))

    d.find_element(By.LINK_TEXT, "alpha").send_keys(Keys.ENTER)
    ui.wait(lambda: ui.find("#assign-node"), "alpha's page")
    a11y(ui, "instance page")
    ui.wait(lambda: len(Select(ui.find("#assign-node")).options) == 4, "the node choices")
    Select(ui.find("#assign-node")).select_by_value(I.name)
    ui.find("#assign-btn").send_keys(Keys.ENTER)
    ui.wait(lambda: I.name in ui.text("#inst-info"), "alpha assigned to %s on its page" % I.name)
    ui.shot("05-instance")

    ui.go("#/instances")
    ui.wait(lambda: I.name in ui.text('tr[data-instance="alpha"]'), "the list to show alpha on " + I.name)
    presses = ui.tab_to("e => e && e.getAttribute('aria-label') === 'Start alpha'", "Start alpha")
    check(True, "the Start button of alpha is reachable with Tab (%d presses)" % presses)
    t_start = time.monotonic()
    d.switch_to.active_element.send_keys(Keys.ENTER)
    ui.wait(lambda: ui.text('[data-inst-status="alpha"]') == "running",
            "alpha's status to turn running in the open page", timeout=120)
    log("measure: Start (keyboard) -> 'running' shown in the page: %.0f ms (stand-in start included)"
        % ((time.monotonic() - t_start) * 1000))
    check(ui.js("return window.__noReload") == "still here", "the status turned running without a reload")
    check(ui.js("return window.clusterdUI.metrics.remoteEvents") > 0,
          "the page follows the event streams of the other nodes (CORS)")
    ui.shot("04-instances")

    # RCON console on alpha's page.
    ui.go("#/instances/alpha")
    ui.wait(lambda: ui.find("#rcon-cmd"), "the RCON console")
    ui.find("#rcon-cmd").send_keys("/sc rcon.print(6*7)" + Keys.ENTER)
    ui.wait(lambda: "42" in ui.text("#rcon-out"), "the RCON reply in the console")
    # A player joins and chats in the game (the stand-in's commands, typed
    # in the console): the page lists the player and shows the chat live.
    ui.find("#rcon-cmd").send_keys("/standin join alice" + Keys.ENTER)
    ui.wait(lambda: "alice" in ui.text("#inst-players"), "alice listed as online on alpha's page")
    ui.wait(lambda: "alice" in ui.text("#inst-log"), "the game's line about alice in the live log")
    ui.shot("05-instance")
    ui.go("#/overview")
    ui.wait(lambda: ui.text("#card-players .n") == "1", "the overview to count one player online")
    api(U, "POST", "/api/v1/instances/alpha/rcon", {"command": "/standin chat alice hello from alpha"})
    ui.wait(lambda: "hello from alpha" in ui.text("#chat"), "alice's chat on the overview, live")
    ui.shot("02-overview")

    # ---- configuration and kill, where the node offers them ----
    ui.go("#/instances/alpha")
    if endpoint_exists(U, "/api/v1/instances/alpha/config"):
        ui.wait(lambda: ui.find("#cfg-text"), "the configuration editor")
        check('"settings"' in ui.find("#cfg-text").get_attribute("value"),
              "the configuration shows the server settings")
    else:
        log("SKIP: configuration: this node has no config endpoint")
        ui.wait(lambda: "not available" in ui.text("#inst-config"), "the config panel to say not available")

    # ---- saves ----
    ui.go("#/saves")
    a11y(ui, "saves")
    if endpoint_exists(U, "/api/v1/instances/alpha/saves"):
        zpath = os.path.join(cl.tmp, "uploaded.zip")
        # Over 1 MiB and incompressible: the UI sends it in two parts.
        with zipfile.ZipFile(zpath, "w", zipfile.ZIP_STORED) as z:
            z.writestr("uploaded/level.dat0", os.urandom(1536 * 1024))
        Select(ui.find("#save-inst")).select_by_value("alpha")
        d.find_element(By.ID, "save-file").send_keys(zpath)
        ui.wait(lambda: "uploaded" in ui.text("#list"), "the uploaded save (1.5 MiB, two parts) listed")
        check(ui.js("return document.getElementById('save-progress').value") == 100,
              "the upload's progress bar reached 100")
    else:
        log("SKIP: upload a save: this node has no saves endpoint (GET /api/v1/instances/NAME/saves)")
        ui.wait(lambda: "not available" in ui.text("#list"), "the saves page to say not available")
    ui.shot("06-saves")

    # ---- users ----
    ui.go("#/users")
    ui.wait(lambda: ui.find("#tokens table"), "the token list on the users page")
    a11y(ui, "users")
    if endpoint_exists(U, "/api/v1/users"):
        ui.find("#user-name").send_keys("griefer")
        ui.find("#user-reason").send_keys("spilled the oil")
        ui.find("#ban-btn").send_keys(Keys.ENTER)
        ui.wait(lambda: "banned" in ui.text('tr[data-user="griefer"]'),
                "the banned user in the list, marked banned")
        check("spilled the oil" in ui.text('tr[data-user="griefer"]'), "the ban's reason is listed")
    else:
        log("SKIP: ban a user: this node has no users endpoint (GET /api/v1/users)")
        ui.wait(lambda: "not available" in ui.text("#list"), "the users page to say not available")
    ui.shot("07-users")

    for i, page in enumerate(("items", "inventories", "plugins")):
        ui.go("#/" + page)
        ui.wait(lambda: ui.text("#list"), "the %s page to draw" % page)
        a11y(ui, page)
        ui.shot("%02d-%s" % (8 + i, page))

    # ---- kill -9 the leader ----
    # Leadership may have moved; make it L's again (neither the page's node
    # nor the instance's), so the kill tests failover through U alone.
    def lead_l():
        if (cl.leader() or U).name != L.name:
            api(U, "POST", "/api/v1/cluster/transfer-leader", {"target": L.name})
        return (cl.leader() or U).name == L.name
    wait_for(lead_l, "%s to lead again" % L.name, interval=1)
    ui.go("#/overview")
    ui.wait(lambda: ui.text("#card-leader .n") == L.name, "the leader card to show " + L.name)
    L.kill9()
    log("killed the leader %s" % L.name)
    ui.wait(lambda: ui.text("#card-leader .n") not in (L.name, "none", ""),
            "the overview to show a new leader, live")
    new_leader = ui.text("#card-leader .n")
    check(new_leader in (U.name, I.name), "the new leader %s is a survivor" % new_leader)
    ui.wait(lambda: ui.text("#card-nodes .n") == "2 / 3", "the overview to show 2 of 3 nodes alive")
    check("live" in ui.text("#conn"), "the page is still live on %s" % U.name)
    ui.go("#/instances")
    ui.wait(lambda: ui.find('tr[data-instance="alpha"] button[data-action="stop"]'), "alpha's Stop button")
    ui.find('tr[data-instance="alpha"] button[data-action="stop"]').click()
    ui.wait(lambda: ui.text('[data-inst-status="alpha"]') == "stopped",
            "alpha stopped through the UI after the leader died", timeout=120)
    check(ui.js("return window.__noReload") == "still here", "no reload through the failover")
    ui.go("#/overview")

    # ---- kill -9 the node the page talks to ----
    # L comes back first, so the two survivors of U's death keep a quorum.
    L.start(flags=False)
    ui.wait(lambda: ui.text("#card-nodes .n") == "3 / 3", "the overview to show %s back" % L.name)
    U.kill9()
    log("killed %s, the node of the page" % U.name)
    ui.wait(lambda: ui.find("#banner a.switch"), "the page to say its node is down and offer others")
    check(U.http in ui.text("#banner"), "the banner names the dead node")
    offered = [a.get_attribute("data-node") for a in d.find_elements(By.CSS_SELECTOR, "#banner a.switch")]
    check(sorted(offered) == sorted([L.name, I.name]),
          "the banner offers the other nodes %s and %s (offered: %s)" % (L.name, I.name, offered))
    ui.shot("11-node-down")
    d.find_element(By.CSS_SELECTOR, '#banner a.switch[data-node="%s"]' % I.name).send_keys(Keys.ENTER)
    ui.wait(lambda: d.current_url.startswith("http://%s/" % I.http) and "live" in ui.text("#conn"),
            "the page on %s, logged in and live" % I.name)
    check("token=" not in d.current_url, "the handed-over token left the address bar")
    ui.go("#/instances")
    ui.wait(lambda: ui.text('[data-inst-status="alpha"]') == "stopped", "alpha listed through " + I.name)
    ui.shot("12-other-node")

    # ---- a read-only token sees no write controls ----
    st, tok = api(I, "POST", "/api/v1/tokens", {"name": "ui-read", "role": "read"})
    check(st == 201, "a read-only token made")
    d.find_element(By.ID, "logout").send_keys(Keys.ENTER)
    ui.wait(lambda: ui.find("#token"), "the login form after logging out")
    check(ui.js("return sessionStorage.getItem('clusterd_token')") is None, "logging out forgets the token")
    ui.find("#token").send_keys(tok["token"] + Keys.ENTER)
    ui.wait(lambda: "(read)" in ui.text("#who"), "the page to know the token is read-only")
    ui.go("#/instances")
    ui.wait(lambda: ui.find('tr[data-instance="alpha"]'), "the instances listed for a read-only token")
    visible = ui.js("""return Array.from(document.querySelectorAll('button, form'))
        .filter(e => e.offsetParent !== null && e.closest('main')).map(e => e.textContent.trim() || e.id)""")
    check(not visible, "a read-only token sees no write button or form on the instances page (visible: %r)" % visible)
    ui.shot("13-read-only")
    log("screenshots in %s" % SHOTS)


if __name__ == "__main__":
    run(main)
