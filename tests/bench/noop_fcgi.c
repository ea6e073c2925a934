/* The benchmarks' reference: a libfcgi responder that reads the body and
 * answers a tiny JSON, with the same threading model as consentgated. Its
 * throughput through nginx is the ceiling of the FastCGI hop. */
#include <fcgiapp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int listen_fd;

static void *worker(void *arg)
{
	FCGX_Request rq;
	char body[4096];

	(void)arg;
	FCGX_InitRequest(&rq, listen_fd, 0);
	while (FCGX_Accept_r(&rq) >= 0) {
		const char *cl = FCGX_GetParam("CONTENT_LENGTH", rq.envp);
		int n = cl ? atoi(cl) : 0;
		if (n > 0 && n <= (int)sizeof body)
			FCGX_GetStr(body, n, rq.in);
		FCGX_PutS("Status: 200 OK\r\nContent-Type: application/json\r\n"
		          "Content-Length: 2\r\n\r\n{}", rq.out);
		FCGX_Finish_r(&rq);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 2 ? atoi(argv[2]) : 64;
	pthread_t t;

	if (argc < 2) {
		fprintf(stderr, "usage: noop_fcgi SOCKET [THREADS]\n");
		return 2;
	}
	FCGX_Init();
	unlink(argv[1]);
	listen_fd = FCGX_OpenSocket(argv[1], 1024);
	if (listen_fd < 0)
		return 1;
	chmod(argv[1], 0666);
	for (int i = 1; i < threads; i++)
		pthread_create(&t, NULL, worker, NULL);
	worker(NULL);
	return 0;
}
