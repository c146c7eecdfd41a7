"""The C source of the initramfs's /init, kept as a string (the package ships only .py).

Debian's kernel has virtio, virtio-mmio, virtio-blk, virtio-console and ext4 as modules,
so something must load them before the root disk can be mounted. A tiny static C program
does it with no userland at all (no busybox, no kmod): load the modules listed in
`/modules` in order, mount `/dev/vda` read-only, put tmpfs on the writable places, bind
the host's current guest agent over `/opt/sandlot`, switch into the disk, and start the
agent. It stays PID 1 of the guest to reap orphans; when the agent ends it reboots, and
QEMU (`-no-reboot`) exits, so the host sees a dead VM rather than a silent one.
"""

SOURCE = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
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
