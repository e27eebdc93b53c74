#!/usr/bin/env node
// Plays a stream in a real browser, as a web page of another origin would:
// Debian's Chromium, headless, loads PAGE (t/browser/player.html served by
// some server) with ?src=STREAM, and hls.js in the page plays STREAM.
// Prints one JSON line: whether playback time advanced past --min seconds
// within --wait seconds (played), the video's currentTime, and what went
// wrong on the way (hls.js errors with HTTP codes, media errors, failed
// requests, console errors).
//
//   node play.js --page URL --stream URL [--wait 30] [--min 1] [--switch 1]
//
// With --switch 1 (a multi-variant stream), once it plays, the rendition
// is changed through hls.js' API (hls.currentLevel, to the level farthest
// from the current one) and the result's `switch` says whether hls.js
// switched, loaded fragments of the new level and played on by --min s;
// `levels` lists the renditions hls.js parsed.
//
// Exit status: 0 when it could tell (played or not: the caller asserts),
// 2 on bad usage or when the browser could not be run at all.
// CHROMIUM names the browser binary (default /usr/bin/chromium).
'use strict';

const puppeteer = require('puppeteer-core');

function parseArgs(argv) {
    const o = { wait: 30, min: 1, switch: 0 };
    for (let i = 0; i < argv.length; i += 2) {
        const key = argv[i].replace(/^--/, '');
        if (!['page', 'stream', 'wait', 'min', 'switch'].includes(key) || argv[i + 1] === undefined) {
            throw new Error(`unknown or incomplete argument ${argv[i]}`);
        }
        o[key] = argv[i + 1];
    }
    if (!o.page || !o.stream) {
        throw new Error('--page and --stream are required');
    }
    o.wait = Number(o.wait);
    o.min = Number(o.min);
    o.switch = Number(o.switch);
    return o;
}

async function main() {
    let opts;
    try {
        opts = parseArgs(process.argv.slice(2));
    } catch (e) {
        console.error(`play.js: ${e.message}`);
        console.error('usage: node play.js --page URL --stream URL [--wait 30] [--min 1] [--switch 1]');
        process.exit(2);
    }

    const args = ['--headless=new', '--mute-audio',
        '--autoplay-policy=no-user-gesture-required',
        '--no-first-run', '--no-default-browser-check', '--disable-gpu',
        '--disable-dev-shm-usage'];
    // Chromium refuses to run as root inside its sandbox.
    if (process.getuid && process.getuid() === 0) {
        args.push('--no-sandbox');
    }
    const browser = await puppeteer.launch({
        executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
        args,
        headless: true,
    });
    const result = {
        played: false, currentTime: 0, errors: [], failedRequests: [],
        consoleErrors: [], events: 0,
    };
    try {
        const page = await browser.newPage();
        page.on('console', (m) => {
            if (m.type() === 'error') {
                result.consoleErrors.push(m.text());
            }
        });
        page.on('requestfailed', (r) => {
            result.failedRequests.push(`${r.url()} ${r.failure() ? r.failure().errorText : ''}`);
        });
        page.on('response', (r) => {
            if (r.status() >= 400) {
                result.failedRequests.push(`${r.url()} HTTP ${r.status()}`);
            }
        });
        const url = new URL(opts.page);
        url.searchParams.set('src', opts.stream);
        await page.goto(url.toString(), { waitUntil: 'load', timeout: 15000 });

        const deadline = Date.now() + opts.wait * 1000;
        let state = {};
        while (Date.now() < deadline) {
            state = await page.evaluate(() => {
                const v = document.getElementById('video');
                const s = window.playerState || {};
                return {
                    currentTime: v ? v.currentTime : 0,
                    errors: s.errors || [], events: (s.events || []).length,
                    fatal: !!s.fatal,
                };
            });
            if (state.currentTime > opts.min || state.fatal) {
                break;
            }
            await new Promise((r) => setTimeout(r, 250));
        }
        result.currentTime = state.currentTime || 0;
        result.played = result.currentTime > opts.min;
        result.levels = await page.evaluate(() => (window.playerState || {}).levels || []);
        if (opts.switch && result.played && result.levels.length > 1) {
            result.switch = await switchLevel(page, opts, deadline);
            result.currentTime = result.switch.timeAfter;
        }
        state = await page.evaluate(() => window.playerState || {});
        result.errors = state.errors || [];
        result.events = (state.events || []).length;
    } finally {
        await browser.close();
    }
    // Stream URLs may carry credentials: the caller decides what to print.
    process.stdout.write(JSON.stringify(result) + '\n');
}

// Forces hls.js onto another rendition and watches it play there.
async function switchLevel(page, opts, deadline) {
    const before = await page.evaluate(() => {
        const v = document.getElementById('video');
        const from = window.hls.currentLevel;
        const n = window.hls.levels.length;
        const to = from < n / 2 ? n - 1 : 0;
        const mark = window.playerState.events.length;
        window.hls.currentLevel = to;
        return { from, to, mark, timeBefore: v.currentTime };
    });
    const out = Object.assign(before, { switched: false, fragments: 0, timeAfter: before.timeBefore });
    // At least as long again as it took to start playing.
    const until = Math.max(deadline, Date.now() + 20000);
    while (Date.now() < until) {
        const s = await page.evaluate((mark, to) => {
            const ev = window.playerState.events.slice(mark);
            return {
                switched: ev.some((e) => e.event === 'level_switched' && e.level === to),
                fragments: ev.filter((e) => e.event === 'frag_loaded' && e.level === to).length,
                level: window.hls.currentLevel,
                time: document.getElementById('video').currentTime,
            };
        }, before.mark, before.to);
        Object.assign(out, { switched: s.switched, fragments: s.fragments, level: s.level, timeAfter: s.time });
        if (s.switched && s.fragments > 0 && s.time > before.timeBefore + opts.min) {
            break;
        }
        await new Promise((r) => setTimeout(r, 250));
    }
    return out;
}

main().catch((e) => {
    console.error(`play.js: ${e.stack || e}`);
    process.exit(2);
});
