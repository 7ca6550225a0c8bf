# Homebrew formula for Coco.  url and sha256 name the release tarball made
# by `make dist`; update both at each release (`shasum -a 256 coco-*.tar.gz`).
class Coco < Formula
  desc "Stackful coroutines for C: scheduler, channels, timers and non-blocking I/O"
  homepage "https://example.org/coco"
  url "https://example.org/coco/coco-0.1.0.tar.gz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license "MIT"

  depends_on "check" => :build
  depends_on "pkgconf" => :build

  def install
    system "./configure", "--disable-silent-rules", *std_configure_args
    system "make"
    system "make", "check"
    system "make", "install"
  end

  test do
    (testpath/"join.c").write <<~C
      #include <coco.h>
      #include <stdio.h>

      static void worker(void *arg)
      {
          coco_exit(coco_self(), (void *)((intptr_t)arg * 2));
      }

      static void main_coro(void *arg)
      {
          coco_coro_t *w = coco_create(coco_self()->sched, worker, arg, 0);
          printf("Result: %ld\\n", (long)(intptr_t)coco_join(w));
          coco_destroy(w);
      }

      int main(void)
      {
          coco_sched_t *sched = coco_sched_create();
          coco_create(sched, main_coro, (void *)(intptr_t)21, 0);
          int rc = coco_sched_run(sched);
          coco_sched_destroy(sched);
          return rc == COCO_OK ? 0 : 1;
      }
    C
    system ENV.cc, "join.c", "-I#{include}", "-L#{lib}", "-lcoco", "-o", "join"
    assert_equal "Result: 42\n", shell_output("./join")
  end
end
