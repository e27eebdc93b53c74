#!/usr/bin/env node
// Plays a stream in a real browser, as a web page of another origin would:
// Debian's Chromium, headless, loads PAGE (t/browser/player.html served by
// some server) with ?src=STREAM, and hls.js in the page plays STREAM.
// Prints one JSON line: whether playback time advanced past --min seconds
// within --wait seconds (played), the video's currentTime, and what went
// wrong on the way (hls.js errors with HTTP codes, media errors, failed
// requests, console errors).
//
//   node play.js --page URL --stream URL [--wait 30] [--min 1]
//
// Exit status: 0 when it could tell (played or not: the caller asserts),
// 2 on bad usage or when the browser could not be run at all.
// CHROMIUM names the browser binary (default /usr/bin/chromium).
'use strict';

const puppeteer = require('puppeteer-core');

function parseArgs(argv) {
    const o = { wait: 30, min: 1 };
    for (let i = 0; i < argv.length; i += 2) {
        const key = argv[i].replace(/^--/, '');
        if (!['page', 'stream', 'wait', 'min'].includes(key) || argv[i + 1] === undefined) {
            throw new Error(`unknown or incomplete argument ${argv[i]}`);
        }
        o[key] = argv[i + 1];
    }
    if (!o.page || !o.stream) {
        throw new Error('--page and --stream are required');
    }
    o.wait = Number(o.wait);
    o.min = Number(o.min);
    return o;
}

async function main() {
    let opts;
    try {
        opts = parseArgs(process.argv.slice(2));
    } catch (e) {
        console.error(`play.js: ${e.message}`);
        console.error('usage: node play.js --page URL --stream URL [--wait 30] [--min 1]');
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
        result.errors = state.errors || [];
        result.events = state.events || 0;
    } finally {
        await browser.close();
    }
    // Stream URLs may carry credentials: the caller decides what to print.
    process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
    console.error(`play.js: ${e.stack || e}`);
    process.exit(2);
});
