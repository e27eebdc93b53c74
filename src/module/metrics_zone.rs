//! The module's shared memory zone, `stream_autostart_metrics`: every
//! worker's counters (`crate::metrics_counters`) where one scrape, answered
//! by any worker, sees them all. Added with the http block's configuration;
//! a reload with the same zone keeps the counts. Each worker takes its slot
//! once, when it starts, and bumps only that (relaxed atomic adds).

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use std::time::Instant;

use ngx::ffi::{
    ngx_conf_t, ngx_cycle_t, ngx_int_t, ngx_pstrdup, ngx_shared_memory_add, ngx_shm_zone_t,
    ngx_slab_calloc, ngx_slab_pool_t, ngx_str_t, NGX_ERROR, NGX_LOG_WARN, NGX_OK,
};
use ngx::http::HttpModuleMainConf;
use ngx::ngx_log_error;

use super::conf::MainConf;
use super::directives::Module;
use crate::metrics_counters::{Counters, Slot, Snapshot, SLOTS};

const ZONE_NAME: &[u8] = b"stream_autostart_metrics";
/// Room for `Counters` and the slab pool's own pages.
const ZONE_SIZE: usize = core::mem::size_of::<Counters>() + 64 * 1024;

/// This worker's slot in the zone: set once when the worker starts, read by
/// its requests. It owns nothing (the zone is nginx's), so nothing leaks
/// when the module goes; null in the master and when no slot was free.
static SLOT: AtomicPtr<Slot> = AtomicPtr::new(ptr::null_mut());

/// Adds the zone (the http block's postconfiguration); `false` when nginx
/// could not.
pub fn add_zone(cf: *mut ngx_conf_t, main: &mut MainConf) -> bool {
    let mut name = ngx_str_t {
        len: ZONE_NAME.len(),
        data: ZONE_NAME.as_ptr() as *mut u8,
    };
    // SAFETY: cf is the configuration being parsed; the zone's name is
    // copied into its pool (which lives as long as the zone's cycle), and
    // the tag is this module, which no other zone uses.
    let zone = unsafe {
        let copy = ngx_pstrdup((*cf).pool, &mut name);
        if copy.is_null() {
            return false;
        }
        name.data = copy;
        let tag = ptr::addr_of_mut!(super::directives::ngx_http_stream_autostart_module);
        ngx_shared_memory_add(cf, &mut name, ZONE_SIZE, tag.cast())
    };
    if zone.is_null() {
        return false;
    }
    // SAFETY: nginx returned a live zone of the configuration's cycle.
    unsafe { (*zone).init = Some(init_zone) };
    main.metrics_zone = core::ptr::NonNull::new(zone);
    true
}

/// nginx maps the zone (master, before the workers fork): the counters,
/// zeroed, or the previous configuration's when reloading.
unsafe extern "C" fn init_zone(zone: *mut ngx_shm_zone_t, data: *mut c_void) -> ngx_int_t {
    // SAFETY: nginx calls init with the zone it mapped; `data` is null or
    // the previous cycle's zone data, a Counters in this same (kept)
    // mapping; shm.addr is the zone's slab pool, which ngx_slab_calloc
    // locks while it allocates.
    unsafe {
        if !data.is_null() {
            (*zone).data = data;
            return NGX_OK as ngx_int_t;
        }
        let pool = (*zone).shm.addr as *mut ngx_slab_pool_t;
        // Allocations bigger than half a page are whole pages: aligned
        // for Slot. All-zero memory is an empty Counters.
        let counters = ngx_slab_calloc(pool, core::mem::size_of::<Counters>());
        if counters.is_null() {
            return NGX_ERROR as ngx_int_t;
        }
        (*pool).data = counters;
        (*zone).data = counters;
    }
    NGX_OK as ngx_int_t
}

/// The zone's counters, from a configuration's main conf.
fn counters(main: &MainConf) -> Option<&'static Counters> {
    let zone = main.metrics_zone?;
    // SAFETY: metrics_zone is the zone add_zone made for this
    // configuration; once nginx ran init_zone its data is the Counters in
    // shared memory, mapped for the life of the process.
    unsafe { ((*zone.as_ptr()).data as *const Counters).as_ref() }
}

/// A process that still exists (the owner of a slot).
fn alive(pid: u64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; no signal is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// A worker starts: it takes its slot.
pub unsafe extern "C" fn init_process(cycle: *mut ngx_cycle_t) -> ngx_int_t {
    // SAFETY: nginx calls init_process with the worker's live cycle.
    let Some(main) = Module::main_conf(unsafe { &*cycle }) else {
        return NGX_OK as ngx_int_t;
    };
    let Some(c) = counters(main) else {
        return NGX_OK as ngx_int_t;
    };
    match c.claim(std::process::id() as u64, alive) {
        Some(slot) => SLOT.store(slot as *const Slot as *mut Slot, Ordering::Relaxed),
        None => {
            ngx_log_error!(
                NGX_LOG_WARN,
                // SAFETY: the cycle's log lives as long as the cycle.
                unsafe { (*cycle).log },
                "stream_autostart: all {} slots of the metrics zone are taken by running workers; this worker's requests are not counted",
                SLOTS
            );
        }
    }
    NGX_OK as ngx_int_t
}

/// This worker's slot, if it has one.
pub fn slot() -> Option<&'static Slot> {
    // SAFETY: SLOT is null or a Slot in the shared zone, which stays
    // mapped for the worker's life.
    unsafe { SLOT.load(Ordering::Relaxed).as_ref() }
}

/// What every worker counted, for a scrape.
pub fn snapshot(main: &MainConf) -> Snapshot {
    counters(main).map_or_else(Snapshot::default, |c| c.snapshot(alive))
}

/// A request held for its channel: counted while it lives, its time
/// observed when it goes (answered, refused, or the client gone).
pub struct Hold {
    since: Instant,
}

impl Hold {
    pub fn start() -> Hold {
        if let Some(s) = slot() {
            s.hold_started();
        }
        Hold {
            since: Instant::now(),
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(s) = slot() {
            s.hold_ended(self.since.elapsed().as_micros() as u64);
        }
    }
}
