"""The C source of the initramfs's /init, kept as a string (the package ships only .py).

Debian's kernel has virtio, virtio-mmio, virtio-blk, virtio-console and ext4 as modules,
so something must load them before the root disk can be mounted. A tiny static C program
does it with no userland at all (no busybox, no kmod): load the modules listed in
`/modules` in order, mount `/dev/vda` read-only, put tmpfs on the writable places, bind
the host's current guest agent over `/opt/sandlot`, switch into the disk, and start the
agent (eth0 up first, for the one way out the host's gateway allows: `network.py`). It
stays PID 1 of the guest to reap orphans; when the agent ends it reboots, and
QEMU (`-no-reboot`) exits, so the host sees a dead VM rather than a silent one. A child of
it serves the `sandlot-wake` port: a restore's clock and RNG reseed (`snapshot.wake`).
"""

SOURCE = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/random.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void say(const char *what) {
    dprintf(2, "sandlot-init: %s: %s\n", what, strerror(errno));
}

static void die(const char *what) {
    say(what);
    sync();
    reboot(RB_AUTOBOOT);
    for (;;) pause();
}

/* virtio_mmio.device=... words of the kernel command line, as module parameters. */
static void mmio_params(char *out, size_t size) {
    char line[4096] = {0};
    int fd = open("/proc/cmdline", O_RDONLY);
    out[0] = 0;
    if (fd < 0) return;
    ssize_t n = read(fd, line, sizeof line - 1);
    close(fd);
    if (n <= 0) return;
    for (char *word = strtok(line, " \n"); word; word = strtok(NULL, " \n")) {
        if (strncmp(word, "virtio_mmio.", 12) == 0 && strlen(out) + strlen(word) + 2 < size) {
            strcat(out, word + 12);
            strcat(out, " ");
        }
    }
}

static void load_modules(void) {
    char list[4096] = {0}, params[2048];
    int fd = open("/modules", O_RDONLY);
    if (fd < 0) die("open /modules");
    if (read(fd, list, sizeof list - 1) < 0) die("read /modules");
    close(fd);
    mmio_params(params, sizeof params);
    char *save = NULL;
    for (char *name = strtok_r(list, "\n", &save); name; name = strtok_r(NULL, "\n", &save)) {
        char path[256];
        snprintf(path, sizeof path, "/lib/%s", name);
        int mfd = open(path, O_RDONLY | O_CLOEXEC);
        if (mfd < 0) die(path);
        const char *args = strcmp(name, "virtio_mmio.ko") == 0 ? params : "";
        if (syscall(SYS_finit_module, mfd, args, 0) != 0 && errno != EEXIST) die(path);
        close(mfd);
    }
}

static void wait_for(const char *path) {
    struct timespec tick = {0, 5 * 1000 * 1000};
    for (int i = 0; i < 2000; i++) {
        if (access(path, F_OK) == 0) return;
        nanosleep(&tick, NULL);
    }
    errno = ENOENT;
    die(path);
}

static void mnt(const char *src, const char *dst, const char *type, unsigned long flags,
                const char *data) {
    mkdir(dst, 0755);
    if (mount(src, dst, type, flags, data) != 0) die(dst);
}

/* A folder of the writable area, bound over `dst` (which the read-only root has). */
static void writable(const char *area, const char *dst, mode_t mode) {
    mkdir("/run/.rw", 0700);
    if (mkdir(area, mode) != 0 || chmod(area, mode) != 0) die(area);
    if (mount(area, dst, NULL, MS_BIND, NULL) != 0) die(dst);
}

/* Bring `lo` up (the kernel then gives it 127.0.0.1 and ::1): programs that talk to
   themselves over localhost need it, and nothing else in the guest would do it. */
static void loopback_up(void) {
    struct ifreq ifr;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) {
        say("lo");
    } else {
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) say("lo up");
    }
    if (fd >= 0) close(fd);
}

/* eth0, the NIC on QEMU's restricted user network (network.py): 10.0.2.15/32 and a route
   to the gateway's guestfwd 10.0.2.100 alone, so a connection anywhere else fails at once
   (no route) rather than waiting on packets slirp drops. A kernel without it: said, no more. */
static void eth0_up(void) {
    struct ifreq ifr;
    struct rtentry rt;
    struct sockaddr_in *addr = (struct sockaddr_in *)&ifr.ifr_addr;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        say("eth0 socket");
        return;
    }
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, "eth0", IFNAMSIZ - 1);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = inet_addr("10.0.2.15");
    if (ioctl(fd, SIOCSIFADDR, &ifr) != 0) say("eth0 address");
    addr->sin_addr.s_addr = INADDR_BROADCAST;
    if (ioctl(fd, SIOCSIFNETMASK, &ifr) != 0) say("eth0 netmask");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) say("eth0 up");
    }
    memset(&rt, 0, sizeof rt);
    addr = (struct sockaddr_in *)&rt.rt_dst;
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = inet_addr("10.0.2.100");
    addr = (struct sockaddr_in *)&rt.rt_genmask;
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = INADDR_BROADCAST;
    rt.rt_flags = RTF_UP | RTF_HOST;
    rt.rt_dev = (char *)"eth0";
    if (ioctl(fd, SIOCADDRT, &rt) != 0) say("eth0 route");
    close(fd);
}

/* The /dev node of the virtio-serial port called `name` (no udev: read /sys). */
static int find_port(const char *name, char *out, size_t size) {
    DIR *dir = opendir("/sys/class/virtio-ports");
    struct dirent *entry;
    int found = -1;
    while (dir && found != 0 && (entry = readdir(dir)) != NULL) {
        char path[300], got[64] = {0};
        if (entry->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", entry->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, got, sizeof got - 1);
        close(fd);
        if (n > 0 && got[n - 1] == '\n') got[n - 1] = 0;
        if (strcmp(got, name) == 0) {
            snprintf(out, size, "/dev/%s", entry->d_name);
            found = 0;
        }
    }
    if (dir) closedir(dir);
    return found;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* One wake request, "SECONDS NANOSECONDS HEX128": set the wall clock, mix the 64 bytes
   into the kernel's pool and rekey its CRNG at once. The answer is one line. */
static void wake(int port, const char *line) {
    long long sec, nsec;
    char hex[130] = {0};
    struct { int entropy_count, buf_size; unsigned char buf[64]; } seed = {512, 64, {0}};
    if (sscanf(line, "%lld %lld %129s", &sec, &nsec, hex) != 3 || strlen(hex) != 128) {
        dprintf(port, "err malformed wake request\n");
        return;
    }
    for (int i = 0; i < 64; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            dprintf(port, "err the seed is not hex\n");
            return;
        }
        seed.buf[i] = (unsigned char)(hi << 4 | lo);
    }
    struct timespec now = {(time_t)sec, (long)nsec};
    if (clock_settime(CLOCK_REALTIME, &now) != 0) {
        dprintf(port, "err clock_settime: %s\n", strerror(errno));
        return;
    }
    int rnd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
    if (rnd < 0 || ioctl(rnd, RNDADDENTROPY, &seed) != 0 || ioctl(rnd, RNDRESEEDCRNG) != 0) {
        dprintf(port, "err reseeding the kernel RNG: %s\n", strerror(errno));
        if (rnd >= 0) close(rnd);
        return;
    }
    close(rnd);
    dprintf(port, "ok\n");
}

/* The wake port's server, in a child of init. A restored VM must have the host's time
   and fresh randomness before it is handed out; under TCG every path the guest runs for
   the first time after a restore is translated anew, so this is done by a few hundred
   instructions of C rather than by the Python agent (measured: ~45 ms less per restore). */
static void serve_wake(void) {
    char dev[300], buf[512];
    size_t len = 0;
    int too_long = 0; /* inside a line longer than buf: skipped up to its newline */
    struct timespec tick = {0, 5 * 1000 * 1000};
    int port = -1;
    for (int i = 0; i < 2000 && port < 0; i++) {
        if (find_port("sandlot-wake", dev, sizeof dev) == 0)
            port = open(dev, O_RDWR | O_CLOEXEC);
        if (port < 0) nanosleep(&tick, NULL);
    }
    if (port < 0) {
        say("no wake port");
        _exit(1);
    }
    for (;;) {
        ssize_t n = read(port, buf + len, sizeof buf - 1 - len);
        if (n <= 0) { /* no host connected yet (around a restore) */
            nanosleep(&tick, NULL);
            continue;
        }
        len += (size_t)n;
        char *end;
        while ((end = memchr(buf, '\n', len)) != NULL) {
            *end = 0;
            if (too_long)
                dprintf(port, "err the line is too long\n");
            else
                wake(port, buf);
            too_long = 0;
            len -= (size_t)(end + 1 - buf);
            memmove(buf, end + 1, len);
        }
        if (len == sizeof buf - 1) {
            too_long = 1;
            len = 0;
        }
    }
}

int main(void) {
    mnt("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, NULL);
    mnt("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    load_modules();
    wait_for("/dev/vda");
    mnt("/dev/vda", "/root", "ext4", MS_RDONLY, "noload");
    if (access("/root/opt/sandlot", F_OK) == 0 &&
        mount("/sandlot", "/root/opt/sandlot", NULL, MS_BIND | MS_RDONLY, NULL) != 0)
        say("bind /opt/sandlot");
    if (mount("/dev", "/root/dev", NULL, MS_MOVE, NULL) != 0) die("move /dev");
    umount2("/proc", MNT_DETACH);
    if (chdir("/root") != 0) die("chdir /root");
    if (mount(".", "/", NULL, MS_MOVE, NULL) != 0) die("move root");
    if (chroot(".") != 0 || chdir("/") != 0) die("chroot");
    unsigned long quiet = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    mnt("proc", "/proc", "proc", quiet, NULL);
    mnt("sysfs", "/sys", "sysfs", quiet, NULL);
    /* One writable area, capped at half the VM's memory (tmpfs pages are guest RAM and no
       process limit counts them), seen at /run, /tmp, /home, /root and /var/tmp: filling it
       is ENOSPC for the writer, never the guest's OOM killer ending the agent. */
    mnt("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=50%");
    writable("/run/.rw/tmp", "/tmp", 01777);
    writable("/run/.rw/home", "/home", 0755);
    writable("/run/.rw/root", "/root", 0700);
    writable("/run/.rw/var-tmp", "/var/tmp", 01777);
    mnt("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=620,ptmxmode=666");
    mnt("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=10%");
    /* what udev would add: bash's /dev/fd/N, and the std* names */
    symlink("/proc/self/fd", "/dev/fd");
    symlink("/proc/self/fd/0", "/dev/stdin");
    symlink("/proc/self/fd/1", "/dev/stdout");
    symlink("/proc/self/fd/2", "/dev/stderr");
    mkdir("/home/user", 0755);
    mkdir("/tmp/outputs", 0755);
    sethostname("sandbox", 7);
    loopback_up();
    eth0_up();
    pid_t waker = fork();
    if (waker == 0) {
        setsid();
        serve_wake();
    }
    pid_t agent = fork();
    if (agent < 0) die("fork");
    if (agent == 0) {
        char *argv[] = {"/usr/bin/python3", "-I", "-c",
            "import sys; sys.path.insert(0, '/opt/sandlot'); "
            "from sandlot_guest.agent import serial_main; serial_main.main()", NULL};
        char *envp[] = {"HOME=/home/user", "USER=root", "LANG=C.UTF-8", "SHELL=/bin/bash",
            "TMPDIR=/tmp", "TERM=dumb",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
        setsid();
        if (chdir("/home/user") != 0) say("chdir /home/user");
        execve(argv[0], argv, envp);
        die("exec python3");
    }
    for (;;) {
        int status;
        pid_t done = wait(&status);
        if (done == agent || (done < 0 && errno == ECHILD)) {
            dprintf(2, "sandlot-init: the agent ended (status %d)\n", status);
            sync();
            reboot(RB_AUTOBOOT);
        }
    }
}
"""
