// C++ runtime: exceptions unwinding through frames with destructors,
// rethrow, nested try blocks, std::string, containers, algorithms, iostreams,
// virtual dispatch, RTTI and static initialisation.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

namespace {

std::vector<std::string> trace;

struct Guard {
    explicit Guard(std::string n) : name(std::move(n)) { trace.push_back("+" + name); }
    ~Guard() { trace.push_back("-" + name); }
    std::string name;
};

struct AppError : std::runtime_error {
    AppError(const std::string &what, int c) : std::runtime_error(what), code(c) {}
    int code;
};

struct DerivedError : AppError {
    DerivedError() : AppError("derived failure", 77) {}
};

int thrower(int depth, int kind)
{
    Guard g("frame" + std::to_string(depth));
    if (depth > 0) {
        return thrower(depth - 1, kind) + 1;
    }
    switch (kind) {
    case 0:
        throw 42;
    case 1:
        throw std::string("string exception");
    case 2:
        throw AppError("app error", 3);
    case 3:
        throw DerivedError();
    case 4: {
        std::vector<int> v(3);
        return v.at(10);  // std::out_of_range
    }
    default:
        return 0;
    }
}

struct Shape {
    virtual ~Shape() = default;
    virtual double area() const = 0;
    virtual std::string name() const = 0;
};

struct Rect : Shape {
    Rect(double w, double h) : w(w), h(h) {}
    double area() const override { return w * h; }
    std::string name() const override { return "rect"; }
    double w, h;
};

struct Circle : Shape {
    explicit Circle(double r) : r(r) {}
    double area() const override { return 3.14159 * r * r; }
    std::string name() const override { return "circle"; }
    double r;
};

struct StaticInit {
    StaticInit() { std::printf("static constructor ran\n"); }
} static_init;

}  // namespace

int main()
{
    for (int kind = 0; kind <= 5; kind++) {
        trace.clear();
        try {
            int r = thrower(3, kind);
            std::printf("kind %d: no exception, r=%d\n", kind, r);
        } catch (int v) {
            std::printf("kind %d: caught int %d\n", kind, v);
        } catch (const std::string &s) {
            std::printf("kind %d: caught std::string '%s'\n", kind, s.c_str());
        } catch (const DerivedError &e) {
            std::printf("kind %d: caught DerivedError '%s' code=%d\n", kind, e.what(), e.code);
        } catch (const AppError &e) {
            std::printf("kind %d: caught AppError '%s' code=%d\n", kind, e.what(), e.code);
        } catch (const std::exception &e) {
            std::printf("kind %d: caught std::exception type=%s\n", kind,
                        dynamic_cast<const std::out_of_range *>(&e) ? "out_of_range" : "other");
        }
        std::string joined;
        for (const auto &t : trace) {
            joined += t + " ";
        }
        std::printf("  trace: %s\n", joined.c_str());
    }

    // rethrow and nested handlers
    try {
        try {
            throw AppError("inner", 1);
        } catch (AppError &e) {
            e.code = 2;
            throw;
        }
    } catch (const AppError &e) {
        std::printf("rethrown code=%d what=%s\n", e.code, e.what());
    }
    try {
        try {
            throw std::runtime_error("first");
        } catch (...) {
            std::throw_with_nested(std::logic_error("second"));
        }
    } catch (const std::logic_error &e) {
        std::printf("nested outer=%s\n", e.what());
        try {
            std::rethrow_if_nested(e);
        } catch (const std::runtime_error &inner) {
            std::printf("nested inner=%s\n", inner.what());
        }
    }
    std::exception_ptr ep;
    try {
        throw std::invalid_argument("stored");
    } catch (...) {
        ep = std::current_exception();
    }
    try {
        std::rethrow_exception(ep);
    } catch (const std::invalid_argument &e) {
        std::printf("exception_ptr: %s\n", e.what());
    }

    // strings
    std::string s = "The quick brown fox";
    s += " jumps over the lazy dog";
    std::string upper = s;
    std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
    std::printf("len=%zu find(fox)=%zu substr=%s upper=%s\n", s.size(), s.find("fox"), s.substr(4, 5).c_str(),
                upper.c_str());
    std::string big(1000, 'x');
    big.replace(10, 5, "HELLO");
    std::printf("big: size=%zu rfind=%zu count_x=%ld\n", big.size(), big.rfind("HELLO"),
                static_cast<long>(std::count(big.begin(), big.end(), 'x')));

    // containers and algorithms
    std::vector<int> v;
    unsigned seed = 1;
    for (int i = 0; i < 500; i++) {
        seed = seed * 1103515245u + 12345u;
        v.push_back(static_cast<int>((seed >> 8) % 1000) - 500);
    }
    std::sort(v.begin(), v.end());
    std::printf("sorted: min=%d max=%d median=%d sum=%ld unique=%ld\n", v.front(), v.back(), v[v.size() / 2],
                std::accumulate(v.begin(), v.end(), 0L),
                static_cast<long>(std::distance(v.begin(), std::unique(v.begin(), v.end()))));
    std::vector<std::string> words = {"pear", "apple", "fig", "banana", "cherry", "date"};
    std::stable_sort(words.begin(), words.end(),
                     [](const std::string &a, const std::string &b) { return a.size() < b.size(); });
    std::ostringstream os;
    for (const auto &w : words) {
        os << w << ',';
    }
    std::printf("by length: %s\n", os.str().c_str());
    std::map<std::string, int> counts;
    for (const char *w : {"a", "b", "a", "c", "b", "a"}) {
        counts[w]++;
    }
    for (const auto &kv : counts) {
        std::printf("count[%s]=%d\n", kv.first.c_str(), kv.second);
    }

    // polymorphism and smart pointers
    std::vector<std::unique_ptr<Shape>> shapes;
    shapes.push_back(std::make_unique<Rect>(2.0, 3.5));
    shapes.push_back(std::make_unique<Circle>(1.5));
    auto shared = std::make_shared<Rect>(1.0, 1.0);
    auto copy = shared;
    for (const auto &sh : shapes) {
        std::printf("%s area=%.4f rtti-rect=%d\n", sh->name().c_str(), sh->area(),
                    typeid(*sh) == typeid(Rect));
    }
    std::printf("shared use_count=%ld\n", static_cast<long>(shared.use_count()));

    std::cout << "iostream: " << 42 << ' ' << 3.25 << ' ' << std::hex << 255 << std::dec << std::endl;
    std::cout.flush();
    return 0;
}
