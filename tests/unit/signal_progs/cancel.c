#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
static int p[2];
static void *reader(void *a) { (void)a; char c; read(p[0], &c, 1); return (void *)1; }
static void *sleeper(void *a) { (void)a; sleep(100); return (void *)2; }
static void *spinner(void *a) { (void)a; pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL); for (volatile long i = 0;; i++); return (void *)3; }
int main(void) {
  pipe(p);
  void *(*fns[])(void *) = {reader, sleeper, spinner};
  for (int i = 0; i < 3; i++) {
    pthread_t t; void *r;
    pthread_create(&t, NULL, fns[i], NULL);
    usleep(50000);
    pthread_cancel(t);
    pthread_join(t, &r);
    printf("thread %d canceled=%d\n", i, r == PTHREAD_CANCELED);
  }
  return 0;
}
