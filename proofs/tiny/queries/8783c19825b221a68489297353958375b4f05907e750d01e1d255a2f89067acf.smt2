(set-logic QF_LIA)
(declare-fun B () Int)
(declare-fun Bp () Int)
(declare-fun quot () Int)
(declare-fun rem () Int)
(declare-fun quot.2 () Int)
(declare-fun rem.2 () Int)
(declare-fun wg () Int)
(declare-fun t () Int)
(declare-fun quot.3 () Int)
(declare-fun rem.3 () Int)
(assert (<= 1 B))
(assert (<= B 65536))
(assert (= (+ B 15) (+ (* quot 16) rem)))
(assert (and (<= 0 rem) (< rem 16)))
(assert (= Bp (ite (<= (* quot 16) 16) 16 (* quot 16))))
(assert (= (+ (* Bp 20) 255) (+ (* quot.2 256) rem.2)))
(assert (and (<= 0 rem.2) (< rem.2 256)))
(assert (and (<= 0 wg) (< wg quot.2)))
(assert (and (<= 0 t) (< t 256)))
(assert (< (+ (* wg 256) t) (* Bp 20)))
(assert (= (+ (* wg 256) t) (+ (* quot.3 20) rem.3)))
(assert (and (<= 0 rem.3) (< rem.3 20)))
(assert (! (not (let ((a!1 (and (<= (- 2147483648) (+ (* wg 256) t))
                (<= (+ (* wg 256) t) 2147483647)))
      (a!2 (and (<= (- 2147483648) (* wg 256)) (<= (* wg 256) 2147483647)))
      (a!4 (and (<= (- 2147483648) (* quot.3 4)) (<= (* quot.3 4) 2147483647))))
(let ((a!3 (and (<= (- 2147483648) rem.3)
                (<= rem.3 2147483647)
                a!1
                a!2
                (and (<= (- 2147483648) wg) (<= wg 2147483647))
                (and (<= (- 2147483648) t) (<= t 2147483647))))
      (a!5 (and a!4
                (and (<= (- 2147483648) quot.3) (<= quot.3 2147483647))
                a!1
                a!2
                (and (<= (- 2147483648) wg) (<= wg 2147483647))
                (and (<= (- 2147483648) t) (<= t 2147483647))))
      (a!6 (and (<= (- 2147483648) (+ (* quot.3 4) 1))
                (<= (+ (* quot.3 4) 1) 2147483647)
                a!4
                (and (<= (- 2147483648) quot.3) (<= quot.3 2147483647))
                a!1
                a!2
                (and (<= (- 2147483648) wg) (<= wg 2147483647))
                (and (<= (- 2147483648) t) (<= t 2147483647))))
      (a!7 (and (<= (- 2147483648) (+ (* quot.3 4) 2))
                (<= (+ (* quot.3 4) 2) 2147483647)
                a!4
                (and (<= (- 2147483648) quot.3) (<= quot.3 2147483647))
                a!1
                a!2
                (and (<= (- 2147483648) wg) (<= wg 2147483647))
                (and (<= (- 2147483648) t) (<= t 2147483647))))
      (a!8 (and (<= (- 2147483648) (+ (* quot.3 4) 3))
                (<= (+ (* quot.3 4) 3) 2147483647)
                a!4
                (and (<= (- 2147483648) quot.3) (<= quot.3 2147483647))
                a!1
                a!2
                (and (<= (- 2147483648) wg) (<= wg 2147483647))
                (and (<= (- 2147483648) t) (<= t 2147483647)))))
  (and a!3
       a!5
       a!5
       a!3
       a!6
       a!6
       a!3
       a!7
       a!7
       a!3
       a!8
       a!8
       (and (<= (- 2147483648) quot.3) (<= quot.3 2147483647))
       a!1
       a!2
       (and (<= (- 2147483648) wg) (<= wg 2147483647))
       (and (<= (- 2147483648) t) (<= t 2147483647))
       (<= (- 2147483648) B)
       (<= B 2147483647))))) :named goal))
(check-sat)
