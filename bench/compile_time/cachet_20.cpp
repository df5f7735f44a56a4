// Compile-time cost of cachet: the header plus 20 distinct cached<> types, each called once, so
// every one instantiates its key rendering, store and call path.
#include <cachet.hpp>

#include <string>
#include <vector>

namespace {

struct user {
  int id;
  std::string name;
};

int square(int x) { return x * x; }
long add(long a, long b) { return a + b; }
std::string greet(const std::string& name) { return "hello " + name; }
user load_user(int id) { return {id, "user"}; }
double scale(double x, int by) { return x * by; }
std::vector<int> range(int n) { return std::vector<int>(static_cast<std::size_t>(n), 1); }
bool is_even(unsigned n) { return n % 2 == 0; }
std::string join(const std::string& a, const std::string& b, int n) {
  return a + b + std::to_string(n);
}
int length(std::string_view s) { return static_cast<int>(s.size()); }
long long cube(long long x) { return x * x * x; }

// Each alias is a distinct cached<> type: a different function or a different set of policies.
cachet::cached<&square> c01;
cachet::cached<&square, cachet::ttl<60>> c02;
cachet::cached<&square, cachet::capacity<128>> c03;
cachet::cached<&square, cachet::key<"sq:{}">> c04;
cachet::cached<&add> c05;
cachet::cached<&add, cachet::key<"add:{1}/{0}">, cachet::ttl<5>> c06;
cachet::cached<&greet, cachet::ttl<300>> c07;
cachet::cached<&greet, cachet::tags<"greetings", "name:{}">> c08;
cachet::cached<&load_user, cachet::ttl<300>> c09;
cachet::cached<&load_user, cachet::key<"user:{}">, cachet::tags<"users">> c10;
cachet::cached<&load_user, cachet::capacity<1024>, cachet::ttl<30>> c11;
cachet::cached<&scale> c12;
cachet::cached<&scale, cachet::key<"scale:{}:{}">> c13;
cachet::cached<&range, cachet::ttl<10>> c14;
cachet::cached<&is_even> c15;
cachet::cached<&join, cachet::key<"join:{}|{}|{}">> c16;
cachet::cached<&length, cachet::ttl<1>> c17;
cachet::cached<&cube, cachet::capacity<64>> c18;
cachet::cached<&cube, cachet::tags<"cubes">, cachet::ttl<120>> c19;
cachet::cached<&join, cachet::tags<"joins", "left:{0}">, cachet::capacity<16>> c20;

}  // namespace

int main() {
  const std::string bob = "bob";
  long sum = c01(2) + c02(3) + c03(4) + c04(5) + c05(1, 2) + c06(3, 4);
  sum += static_cast<long>(c07(bob).size() + c08(bob).size());
  sum += c09(1).id + c10(2).id + c11(3).id;
  sum += static_cast<long>(c12(1.5, 2) + c13(2.5, 3));
  sum += static_cast<long>(c14(3).size()) + (c15(4u) ? 1 : 0);
  sum += static_cast<long>(c16(bob, bob, 1).size() + c20(bob, "x", 2).size());
  sum += c17("abc") + static_cast<long>(c18(2) + c19(3));
  return sum == 0 ? 1 : 0;
}
