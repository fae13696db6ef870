/*
 * Directory listing: create a directory with known entries, list it with
 * opendir/readdir (getdents64) and scandir, print the sorted result, clean up.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct entry {
    char name[256];
    unsigned char d_type;
};

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static const char *type_name(mode_t m)
{
    return S_ISDIR(m) ? "dir" : S_ISREG(m) ? "file" : S_ISLNK(m) ? "link" : "other";
}

static void make_file(const char *path, size_t size)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    char c = 'x';

    if (fd < 0) {
        perror(path);
        exit(2);
    }
    for (size_t i = 0; i < size; i++) {
        if (write(fd, &c, 1) != 1) {
            exit(3);
        }
    }
    close(fd);
}

int main(void)
{
    char top[64], path[512];
    static const char *files[] = {"zeta.txt", "alpha", "Beta", "gamma.c", "_under", "0digits", ".hidden"};
    enum { NF = sizeof(files) / sizeof(files[0]) };
    struct entry *ents = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    struct stat st;

    umask(022);
    snprintf(top, sizeof(top), "pyqemu_dir_%d", (int)getpid());
    if (mkdir(top, 0755) != 0) {
        perror("mkdir");
        return 2;
    }
    for (int i = 0; i < NF; i++) {
        snprintf(path, sizeof(path), "%s/%s", top, files[i]);
        make_file(path, (size_t)i * 3);
    }
    snprintf(path, sizeof(path), "%s/subdir", top);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/subdir/inner", top);
    make_file(path, 1);
    snprintf(path, sizeof(path), "%s/link-to-alpha", top);
    if (symlink("alpha", path) != 0) {
        perror("symlink");
    }
    /* many entries with long names to need several getdents64 calls */
    for (int i = 0; i < 60; i++) {
        snprintf(path, sizeof(path), "%s/long_name_entry_%03d_%s", top, i,
                 "padding_padding_padding_padding_padding_padding_padding");
        make_file(path, 0);
    }

    DIR *d = opendir(top);
    if (!d) {
        perror("opendir");
        return 2;
    }
    while ((de = readdir(d)) != NULL) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            ents = realloc(ents, (size_t)cap * sizeof(*ents));
        }
        snprintf(ents[n].name, sizeof(ents[n].name), "%s", de->d_name);
        ents[n].d_type = de->d_type;
        n++;
    }
    closedir(d);
    qsort(ents, (size_t)n, sizeof(*ents), cmp_entry);
    printf("%d entries\n", n);
    int type_mismatch = 0;
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", top, ents[i].name);
        if (lstat(path, &st) != 0) {
            printf("lstat failed for %s\n", ents[i].name);
            continue;
        }
        unsigned char expect = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
        if (ents[i].d_type != DT_UNKNOWN && ents[i].d_type != expect) {
            type_mismatch++;
        }
        if (strncmp(ents[i].name, "long_name_entry_", 16) == 0 && i % 10 != 0) {
            continue; /* keep output short */
        }
        printf("%-40.40s %s", ents[i].name, type_name(st.st_mode));
        if (S_ISREG(st.st_mode)) {
            printf(" size=%lld", (long long)st.st_size);
        }
        if (S_ISLNK(st.st_mode)) {
            char target[64];
            ssize_t len = readlink(path, target, sizeof(target) - 1);
            target[len > 0 ? len : 0] = 0;
            printf(" -> %s", target);
        }
        printf("\n");
    }
    printf("d_type mismatches: %d\n", type_mismatch);

    struct dirent **list;
    int m = scandir(top, &list, NULL, alphasort);
    printf("scandir: %d first=%s last=%s\n", m, m > 0 ? list[0]->d_name : "-",
           m > 0 ? list[m - 1]->d_name : "-");
    for (int i = 0; i < m; i++) {
        free(list[i]);
    }
    free(list);

    /* cleanup; rmdir on a non-empty directory must fail first */
    errno = 0;
    int rc = rmdir(top);
    printf("rmdir-nonempty=%d ENOTEMPTY=%d\n", rc, errno == ENOTEMPTY || errno == EEXIST);
    snprintf(path, sizeof(path), "%s/subdir/inner", top);
    unlink(path);
    snprintf(path, sizeof(path), "%s/subdir", top);
    rmdir(path);
    for (int i = 0; i < n; i++) {
        if (strcmp(ents[i].name, ".") && strcmp(ents[i].name, "..") && strcmp(ents[i].name, "subdir")) {
            snprintf(path, sizeof(path), "%s/%s", top, ents[i].name);
            unlink(path);
        }
    }
    printf("rmdir=%d\n", rmdir(top));
    free(ents);

    /* getcwd and chdir round trip */
    char cwd[4096], cwd2[4096];
    if (getcwd(cwd, sizeof(cwd)) && chdir("/") == 0 && getcwd(cwd2, sizeof(cwd2))) {
        printf("chdir-root cwd=%s\n", cwd2);
        printf("chdir-back=%d\n", chdir(cwd));
    }
    return 0;
}
