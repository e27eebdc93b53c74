#!/usr/bin/env node
// Drives the operator dashboard in a real browser, as an operator would:
// Debian's Chromium, headless, opens PAGE and, without ever reloading it,
//   1. reads how the channel CHANNEL shows (stopped, after unticking
//      "only active") and which rows "only active" showed by default;
//   2. plays a viewer: requests VIEWER (the channel's playlist, token and
//      all) from this process, and waits for the page's own polling to
//      show the channel ready;
//   3. clicks the channel's Restart button and waits for its history to
//      show the restart and the row to be ready again (then, with
//      --screenshot, saves a screenshot of the page);
//   4. clicks Stop and waits for the row to show stopped;
//   4b. clicks START's Start button and waits for it to show ready, and
//       sorts by channel, up and down;
//   5. types FILTER into the filter box and lists the rows left;
//   6. with --keyed (a dashboard whose API needs a key), gives it --key
//      when it asks;
//   7. narrows the window to a phone's and measures what overflows.
// Prints one JSON line of what it saw; the caller asserts (and asks the
// supervisor whether the channel really stopped).
//
//   node dashboard.js --page URL --channel ID --viewer URL --start ID
//        --filter TEXT [--keyed URL --key KEY] [--wait 20] [--screenshot FILE]
//
// Exit status: 0 when it could tell, 2 on bad usage or when the browser
// could not be run. CHROMIUM names the browser (default /usr/bin/chromium).
'use strict';

const puppeteer = require('puppeteer-core');

function parseArgs(argv) {
    const o = { wait: 20 };
    const known = ['page', 'channel', 'viewer', 'filter', 'wait', 'screenshot', 'start',
        'keyed', 'key'];
    for (let i = 0; i < argv.length; i += 2) {
        const key = argv[i].replace(/^--/, '');
        if (!known.includes(key) || argv[i + 1] === undefined) {
            throw new Error(`unknown or incomplete argument ${argv[i]}`);
        }
        o[key] = argv[i + 1];
    }
    for (const k of ['page', 'channel', 'viewer', 'filter', 'start']) {
        if (!o[k]) throw new Error(`--${k} is required`);
    }
    o.wait = Number(o.wait);
    return o;
}

async function main() {
    let opts;
    try {
        opts = parseArgs(process.argv.slice(2));
    } catch (e) {
        console.error(`dashboard.js: ${e.message}`);
        console.error('usage: node dashboard.js --page URL --channel ID --viewer URL --start ID --filter TEXT [--wait 20] [--screenshot FILE]');
        process.exit(2);
    }
    const args = ['--headless=new', '--no-first-run', '--no-default-browser-check',
        '--disable-gpu', '--disable-dev-shm-usage'];
    if (process.getuid && process.getuid() === 0) {
        args.push('--no-sandbox'); // Chromium refuses root inside its sandbox
    }
    const browser = await puppeteer.launch({
        executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
        args,
        headless: true,
    });
    const out = { consoleErrors: [], failedRequests: [], steps: [] };
    const waitMs = opts.wait * 1000;
    try {
        const page = await browser.newPage();
        await page.setViewport({ width: 1280, height: 720 });
        page.on('console', (m) => {
            if (m.type() === 'error') out.consoleErrors.push(m.text());
        });
        page.on('requestfailed', (r) => {
            out.failedRequests.push(`${r.url()} ${r.failure() ? r.failure().errorText : ''}`);
        });
        page.on('response', (r) => {
            if (r.status() >= 400) out.failedRequests.push(`${r.url()} HTTP ${r.status()}`);
        });
        const row = `tr[data-id="${opts.channel}"]`;
        const stateOf = () => page.$eval(row, (tr) => tr.dataset.state).catch(() => null);
        const visibleIds = () => page.$$eval('#rows tr', (trs) => trs.map((tr) => tr.dataset.id));
        const waitState = async (want, sel = row) => {
            try {
                await page.waitForFunction((s, w) => {
                    const tr = document.querySelector(s);
                    return tr && tr.dataset.state === w;
                }, { timeout: waitMs, polling: 200 }, sel, want);
                return true;
            } catch (e) {
                return false;
            }
        };

        const resp = await page.goto(opts.page, { waitUntil: 'load', timeout: 15000 });
        out.pageStatus = resp ? resp.status() : 0;
        await page.waitForFunction(() => /^updated /.test(document.getElementById('updated').textContent),
            { timeout: 15000 });
        // A reload would lose this mark: the checks below see it survive.
        await page.evaluate(() => { window.__noReload = true; });
        out.activeOnlyDefault = await page.$eval('#active-only', (c) => c.checked);
        out.activeRows = await visibleIds();
        out.channelsShown = await page.$eval('#shown', (s) => s.textContent);
        await page.click('#active-only');
        out.initialState = await stateOf();
        out.steps.push('loaded');

        // A viewer's request starts the channel; the page shows it by polling.
        const viewer = await fetch(opts.viewer);
        out.viewerStatus = viewer.status;
        await viewer.text();
        out.readyShown = await waitState('ready');
        out.steps.push('viewer');

        // Restart: the history shows the restart's stop, then ready again.
        await page.click(`${row} button[data-act="restart"]`);
        try {
            await page.waitForFunction((sel) => {
                const tr = document.querySelector(sel);
                return tr && tr.dataset.state === 'ready'
                    && [...tr.querySelectorAll('svg.hist title')].some((t) => /^stop \(restart\)/.test(t.textContent));
            }, { timeout: waitMs, polling: 200 }, row);
            out.restartShown = true;
        } catch (e) {
            out.restartShown = false;
        }
        out.historyTitles = await page.$$eval(`${row} svg.hist title`, (ts) => ts.map((t) => t.textContent));
        out.steps.push('restart');
        if (opts.screenshot) {
            // As an operator first sees it: only active channels.
            await page.click('#active-only');
            await page.waitForFunction(() => document.querySelector('#active-only').checked);
            await new Promise((r) => setTimeout(r, 300));
            await page.screenshot({ path: opts.screenshot, fullPage: true });
            await page.click('#active-only');
        }

        await page.click(`${row} button[data-act="stop"]`);
        out.stoppedShown = await waitState('stopped');
        out.steps.push('stop');

        // Start another channel with its button; sort by channel both ways.
        const other = `tr[data-id="${opts.start}"]`;
        await page.click(`${other} button[data-act="start"]`);
        out.startShown = await waitState('ready', other);
        out.steps.push('start');
        await page.click('th[data-sort="id"]');
        out.sortedUp = await visibleIds();
        await page.click('th[data-sort="id"]');
        out.sortedDown = await visibleIds();
        out.steps.push('sort');

        await page.type('#filter', opts.filter);
        await new Promise((r) => setTimeout(r, 500));
        out.filteredRows = await visibleIds();
        out.steps.push('filter');
        out.pageText = await page.evaluate(() => document.body.innerText);
        out.notReloaded = await page.evaluate(() => window.__noReload === true);
        // Those of the steps so far (the keyed page's 401 logs one).
        out.consoleErrorsMain = out.consoleErrors.slice();

        // A dashboard whose API needs a key: it asks, then shows the list.
        if (opts.keyed) {
            await page.goto(opts.keyed, { waitUntil: 'load', timeout: 15000 });
            await page.waitForSelector('#login:not([hidden])', { timeout: 15000 });
            out.keyAsked = true;
            await page.type('#key', opts.key || '');
            await page.click('#login button');
            await page.waitForFunction(() => /^updated /.test(document.getElementById('updated').textContent),
                { timeout: 15000 });
            out.keyedShown = await page.$eval('#shown', (s) => s.textContent);
            out.keyedUrl = page.url();
            await page.goto(opts.page, { waitUntil: 'load', timeout: 15000 });
        }

        // On a phone's width (switching to a mobile viewport reloads the
        // page: last): one card per channel, nothing wider than
        // the screen, every button within reach.
        await page.setViewport({ width: 390, height: 800, isMobile: true, hasTouch: true });
        await new Promise((r) => setTimeout(r, 300));
        out.phone = await page.evaluate(() => ({
            overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
            cards: getComputedStyle(document.querySelector('thead')).display === 'none',
            buttonsOnScreen: [...document.querySelectorAll('#rows button')].every((b) => {
                const r = b.getBoundingClientRect();
                return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth;
            }),
        }));
        out.steps.push('phone');

    } finally {
        await browser.close();
    }
    console.log(JSON.stringify(out));
}

main().catch((e) => {
    console.error(`dashboard.js: ${e.stack || e}`);
    process.exit(2);
});
