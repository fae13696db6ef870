#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
static pthread_mutex_t m;
static void *locker(void *a) { (void)a; pthread_mutex_lock(&m); return NULL; }
int main(void){
  pthread_mutexattr_t ma; pthread_mutexattr_init(&ma);
  pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&m, &ma);
  pthread_t t; pthread_create(&t, NULL, locker, NULL); pthread_join(t, NULL);
  int r = pthread_mutex_lock(&m);
  printf("lock after owner died: %s\n", r == EOWNERDEAD ? "EOWNERDEAD" : "other");
  pthread_mutex_consistent(&m); pthread_mutex_unlock(&m);
  printf("relock: %d\n", pthread_mutex_lock(&m));
  return 0;
}
