#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void){
  setvbuf(stdout, NULL, _IONBF, 0);
  int st; pid_t p = fork();
  if (!p) { raise(SIGTSTP); printf("child continued\n"); _exit(6); }
  waitpid(p, &st, WUNTRACED);
  printf("stopped=%d sig=%d\n", WIFSTOPPED(st), WSTOPSIG(st));
  kill(p, SIGCONT);
  waitpid(p, &st, WCONTINUED);
  printf("continued=%d\n", WIFCONTINUED(st));
  waitpid(p, &st, 0);
  printf("exited=%d code=%d\n", WIFEXITED(st), WEXITSTATUS(st));
  p = fork();
  if (!p) { raise(SIGSTOP); _exit(8); }
  waitpid(p, &st, WUNTRACED);
  printf("stopped=%d sig=%d\n", WIFSTOPPED(st), WSTOPSIG(st));
  kill(p, SIGCONT); waitpid(p, &st, 0);
  printf("exited=%d code=%d\n", WIFEXITED(st), WEXITSTATUS(st));
  return 0;
}
